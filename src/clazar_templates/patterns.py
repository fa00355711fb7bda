"""How a value is checked against a pattern: always against the whole value.

A match of ``^...$`` that is not a full match accepts ``value + "\\n"``: ``$`` also matches
before a final newline. A name, region or version with a newline ends up in URLs, S3 keys
and API calls, so every check here is a full match, whatever anchors the pattern was written
with (the patterns double as CloudFormation ``AllowedPattern``, where they keep ``^...$``).
"""

from __future__ import annotations

import re

__all__ = ["REGION", "STACK_NAME", "STACK_NAME_FORM", "VERSION", "VERSION_FORM", "fullmatch"]

REGION = r"[a-z]{2}(-[a-z]+)+-[0-9]+"
STACK_NAME = r"[A-Za-z][A-Za-z0-9-]{0,127}"
STACK_NAME_FORM = "a letter, then up to 127 letters, digits and hyphens"
VERSION = r"[0-9A-Za-z.+_-]{1,64}"  # a template version: also an S3 key segment
VERSION_FORM = "1-64 characters of letters, digits and .+_-"


def fullmatch(pattern: str | re.Pattern[str], value: object) -> re.Match[str] | None:
    """The match of ``pattern`` over all of ``value``, from its first character to its last
    (a trailing newline included), or None; None for a value that is not a string."""
    return re.fullmatch(pattern, value) if isinstance(value, str) else None
