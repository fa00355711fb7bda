"""The CloudFormation quick-create link behind the platform's "Launch Stack" button.

The link names a published template (see :mod:`clazar_templates.aws.publishing`) and pre-fills
parameters. Each value is checked against the template's own parameter declaration (name,
AllowedValues, AllowedPattern, lengths) so a link never opens a form CloudFormation would
reject, and NoEcho parameters are refused: a link lives in browser history, proxy logs and
chat messages, so a secret in it is no longer a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import FieldError
from ..patterns import STACK_NAME, fullmatch, region_problem
from ..stacks import Stack, stack
from ..template.parameters import value_problem
from .publishing import (
    DEFAULT_PREFIX,
    LATEST,
    PublishError,
    check_location,
    object_url,
    template_key,
)

__all__ = ["LaunchError", "launch_url", "parameter_problem"]

CONSOLES = {
    "cn-": "https://console.amazonaws.cn",
    "us-gov-": "https://console.amazonaws-us-gov.com",
}


class LaunchError(FieldError):
    """A link that cannot be made; ``field`` names the argument at fault."""

    field: str


def parameter_problem(spec: Mapping[str, Any], value: str) -> str | None:
    """Why CloudFormation would reject ``value`` for the parameter ``spec``, or None."""
    if spec.get("NoEcho"):
        return (
            "it is NoEcho (a secret): a link would leave it in browser history and logs, so "
            "it cannot be pre-filled; the seller types it into the console form"
        )
    return value_problem(spec, value)


def _stack(name: str) -> Stack:
    try:
        return stack(name)
    except KeyError as error:
        raise LaunchError("stack", str(error.args[0])) from None


def launch_url(
    stack: str,
    *,
    bucket: str,
    prefix: str = DEFAULT_PREFIX,
    version: str = LATEST,
    bucket_region: str = "us-east-1",
    params: Mapping[str, str] | None = None,
    stack_name: str | None = None,
    region: str | None = None,
) -> str:
    """The quick-create URL for ``stack`` published in ``bucket`` as ``version``.

    ``params`` pre-fill the form (parameter name -> value); ``stack_name`` defaults to the
    template name and ``region`` (the console's) to ``bucket_region``. Raises LaunchError,
    naming the argument, for an unknown stack, a bad name or region, or a parameter the
    template does not have, declares NoEcho, or would reject. Parameters are checked against
    the template this code builds (the one publish uploads as this package's version).
    """
    target = _stack(stack)
    given = dict(params or {})
    region = region or bucket_region
    for label, value in (("bucket_region", bucket_region), ("region", region)):
        if region_problem(value):
            raise LaunchError(label, str(region_problem(value)))
    name = stack_name or target.name
    if not fullmatch(STACK_NAME, name):
        raise LaunchError(
            "stack_name",
            f"{name!r} is not valid; expected 1-128 letters, digits and hyphens, "
            "starting with a letter",
        )
    try:
        check_location(bucket, prefix, None if version == LATEST else version)
    except PublishError as error:
        raise LaunchError(error.field or "bucket", error.message) from None
    declared = target.build().to_dict().get("Parameters", {})
    for key, value in given.items():
        if key not in declared:
            raise LaunchError(
                "param", f"{target.name} has no parameter {key!r}; it has " + ", ".join(declared)
            )
        problem = parameter_problem(declared[key], value)
        if problem:
            shown = key if declared[key].get("NoEcho") else f"{key}={value!r}"  # not a secret
            raise LaunchError("param", f"{shown} is refused: {problem}")
    template_url = object_url(bucket, bucket_region, template_key(prefix, version, target.name))
    query = [("templateURL", template_url), ("stackName", name)]
    query += [(f"param_{key}", given[key]) for key in declared if key in given]
    console = next((url for p, url in CONSOLES.items() if region.startswith(p)), None)
    console = console or "https://console.aws.amazon.com"
    fragment = "/stacks/quickcreate?" + urlencode(query, quote_via=quote, safe="")
    return f"{console}/cloudformation/home?region={region}#{fragment}"
