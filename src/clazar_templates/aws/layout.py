"""Where published templates live, in names light enough for the command line's defaults:
``<prefix>/<version>/<name>.yaml``, and ``latest`` for the moving alias."""

from __future__ import annotations

__all__ = ["DEFAULT_PREFIX", "LATEST"]

DEFAULT_PREFIX = "templates"
LATEST = "latest"
