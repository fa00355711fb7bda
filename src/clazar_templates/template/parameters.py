"""What CloudFormation accepts for a template parameter, checked before it is asked.

Launch links and StackSet plans fill parameters in; both check each value against the
parameter's own declaration (AllowedValues, MinLength/MaxLength, AllowedPattern), so a
value CloudFormation would refuse is refused here first, with the parameter's own message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["value_problem"]


def value_problem(spec: Mapping[str, Any], value: str) -> str | None:
    """Why CloudFormation would reject ``value`` for the parameter ``spec``, or None."""
    allowed = [str(v) for v in spec.get("AllowedValues", [])]
    if allowed and value not in allowed:
        return "expected one of " + ", ".join(allowed)
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return f"expected at least {spec['MinLength']} characters"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return f"expected at most {spec['MaxLength']} characters"
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        return str(spec.get("ConstraintDescription", f"expected to match {pattern}"))
    return None
