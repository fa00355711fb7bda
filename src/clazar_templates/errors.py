"""The errors the library raises on purpose, under one base.

Every one is a :class:`ClazarError`, so ``except ClazarError`` catches everything the library
means to tell its caller, and nothing else (a bug stays a traceback). Bad input is a
:class:`FieldError` (a ``ValueError``), which names the field at fault; what stops an
operation once it runs (``UpgradeError``: the stack, the target or AWS says no) is a
``RuntimeError``; a template the resolver cannot evaluate is a ``ResolveError``. The package
root exports each of them.
"""

from __future__ import annotations

__all__ = ["ClazarError", "FieldError"]


class ClazarError(Exception):
    """The base of every error the library raises on purpose; ``str()`` is one line."""


class FieldError(ClazarError, ValueError):
    """Bad input: ``field`` names it (an argument, an option, ``--region``...), ``message``
    says what is wrong and the accepted form. ``str()`` is ``"<field>: <message>"`` (just the
    message when no field is at fault, as for a refused publish)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
