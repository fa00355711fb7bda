"""Where published templates live, in names light enough for the command line's defaults:
``<prefix>/<version>/<name>.yaml``, and ``latest`` for the moving alias."""

from __future__ import annotations

from ..patterns import fullmatch

__all__ = ["DEFAULT_PREFIX", "DOT_SEGMENTS", "LATEST", "prefix_problem"]

DEFAULT_PREFIX = "templates"
LATEST = "latest"
DOT_SEGMENTS = (".", "..")  # a URL resolves them, so the key's URL would name another key
_PREFIX = r"[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*"


def prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` (its slashes at either end aside) cannot be a key prefix, or None."""
    path = prefix.strip("/")
    if path and (not fullmatch(_PREFIX, path) or set(path.split("/")) & set(DOT_SEGMENTS)):
        return (
            "expected path segments of letters, digits and !_.*'()- separated by /, "
            "none of them . or .."
        )
    return None
