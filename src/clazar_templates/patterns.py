"""How a value is checked against a pattern: always against the whole value.

A match of ``^...$`` that is not a full match accepts ``value + "\\n"``: ``$`` also matches
before a final newline. A name, region or version with a newline ends up in URLs, S3 keys
and API calls, so every check here is a full match, whatever anchors the pattern was written
with (the patterns double as CloudFormation ``AllowedPattern``, where they keep ``^...$``).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path

__all__ = [
    "REGION",
    "STACK_NAME",
    "STACK_NAME_FORM",
    "VERSION",
    "VERSION_FORM",
    "fullmatch",
    "region_partition",
    "region_problem",
]

REGION = r"[a-z]+(-[a-z]+)+-[0-9]+"  # the shape of a region name; which exist: region_problem
STACK_NAME = r"[A-Za-z][A-Za-z0-9-]{0,127}"
STACK_NAME_FORM = "a letter, then up to 127 letters, digits and hyphens"
VERSION = r"[0-9A-Za-z.+_-]{1,64}"  # a template version: also an S3 key segment
VERSION_FORM = "1-64 characters of letters, digits and .+_-"


def fullmatch(pattern: str | re.Pattern[str], value: object) -> re.Match[str] | None:
    """The match of ``pattern`` over all of ``value``, from its first character to its last
    (a trailing newline included), or None; None for a value that is not a string."""
    return re.fullmatch(pattern, value) if isinstance(value, str) else None


# === Regions: the ones botocore's partition data knows ======================================


@functools.cache
def _regions() -> dict[str, str]:
    """Region -> its partition, from the ``partitions.json`` botocore ships (read as a file:
    a botocore session would cost 0.1 s), its pseudo-regions (``aws-global``) left out."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or spec.origin is None:
        raise RuntimeError("botocore is not installed")
    path = Path(spec.origin).parent / "data" / "partitions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        region: partition["id"]
        for partition in data["partitions"]
        for region in partition["regions"]
        if fullmatch(REGION, region)
    }


def region_partition(region: str) -> str:
    """The partition of a region :func:`region_problem` accepts (``us-gov-west-1``:
    ``aws-us-gov``)."""
    return _regions()[region]


def region_problem(value: object) -> str | None:
    """Why ``value`` is not a region botocore's partition data knows, or None."""
    if isinstance(value, str) and value in _regions():
        return None
    examples = "e.g. us-east-1, us-gov-west-1, cn-north-1, eusc-de-east-1"
    if fullmatch(REGION, value):
        return f"{value!r} is an unknown region, not an AWS region botocore knows; {examples}"
    return f"{value!r} is not an AWS region name; expected one botocore knows, {examples}"
