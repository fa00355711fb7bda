"""CloudFormation's resource provider schemas, as the locked cfn-lint ships them.

Read from cfn-lint's bundled data files (``data/schemas/providers/<region>.json`` names each
type's file under ``data/schemas/resources/``) without importing cfn-lint, which takes about
0.6 s, and never from a newer set that ``cfn-lint --update-specs`` may have left in a user's
cache (cfn-lint's own schema manager prefers that): what is derived from these schemas (the
deployer policy and its generated document, upgrade's offline replacement prediction) must be
the same on every machine with the same lock. ``tests/test_deployer.py`` checks that every
schema read here equals the one cfn-lint's manager loads.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

from ..extras import require

REGION = "us-east-1"


@functools.cache
def _data() -> Path:
    require("lint", "reading CloudFormation's resource schemas")
    spec = importlib.util.find_spec("cfnlint")  # found, not imported
    assert spec is not None
    assert spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"


@functools.cache
def _files(region: str) -> dict[str, str]:
    path = _data() / "providers" / f"{region}.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


@functools.cache
def resource_schema(resource_type: str, region: str = REGION) -> dict[str, Any]:
    """The provider schema of ``resource_type`` in ``region`` (``{}`` for a type with none,
    such as a module). ``Custom::Anything`` is an ``AWS::CloudFormation::CustomResource``, as
    CloudFormation (and cfn-lint) treat it. Shared between callers: read it, never change it."""
    if resource_type.startswith("Custom::"):
        resource_type = "AWS::CloudFormation::CustomResource"
    name = _files(region).get(resource_type)
    if name is None:
        return {}
    path = _data() / "resources" / f"{name}.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))
