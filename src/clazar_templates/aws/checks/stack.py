"""The stack: it exists, is healthy, runs one of our templates, and has that template's outputs.

Proves that what the later checks compare against is ours: the stack's template names which
of our templates it is and equals it (rebuilt, or read from where it was published), so the
roles, policies and subscriptions expected are read from our template resolved with the
stack's parameter values, never from the stack's own.
"""

from __future__ import annotations

import json
from typing import Any

from ...template.reading import load_template
from ...template.resolve import resolve
from ..errors import aws_message
from .concrete import Concrete
from .recognise import NotOurs, differences, identify, reference, summarised
from .report import FAIL, OK, WARN
from .run import CheckRun

__all__ = ["check_stack"]

HEALTHY = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}


def check_stack(run: CheckRun, name: str, bucket: str | None, prefix: str) -> bool:
    """Status, outputs, and our template for the stack, resolved with its parameters; False
    when the other checks cannot run."""
    cfn = run.client("cloudformation")
    try:
        (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    except run.errors as error:  # reported, not raised
        if "does not exist" in str(error):
            run.record(FAIL, "stack", f"no stack named {name} exists in {run.region}")
        else:
            run.record(
                FAIL, "stack", f"cannot read stack {name} in {run.region}: {aws_message(error)}"
            )
        return False
    status = stack["StackStatus"]
    run.partition = stack["StackId"].split(":")[1]
    if status in HEALTHY:
        run.record(OK, "stack", f"{name} is {status}")
    elif status == "UPDATE_ROLLBACK_COMPLETE":
        run.record(WARN, "stack", f"{name}: its last update rolled back ({status})")
    else:
        run.record(FAIL, "stack", f"{name} is {status}")
        return False
    unreadable: tuple[type[Exception], ...] = (*run.errors, ValueError)
    try:
        resolved = _template(run, cfn, stack, bucket, prefix)
    except NotOurs as error:
        run.record(FAIL, "template", str(error))
        return False
    except unreadable as error:  # AWS refused, or parameters our template cannot take
        run.record(FAIL, "template", f"cannot read the stack's template: {aws_message(error)}")
        return False
    run.resources = resolved["Resources"]
    run.concrete = Concrete(stack["StackId"], run.physical, run.resources)
    run.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [k for k in resolved["Outputs"] if k not in run.outputs]
    if missing:
        run.record(FAIL, "outputs", "missing " + ", ".join(missing))
    else:
        run.record(OK, "outputs", ", ".join(run.outputs) or "none expected")
    return True


def _template(
    run: CheckRun, cfn: Any, stack: dict[str, Any], bucket: str | None, prefix: str
) -> dict[str, Any]:
    """Our template for the stack, resolved with its parameters; records physical IDs.

    NotOurs when the stack's template is not one of ours, its reference cannot be had,
    or it differs from the reference (each says what).
    """
    name = stack["StackName"]
    body = cfn.get_template(StackName=name)["TemplateBody"]
    try:  # boto3 hands a JSON template over decoded, YAML as text
        deployed = json.loads(json.dumps(body)) if isinstance(body, dict) else load_template(body)
    except ValueError as error:
        raise NotOurs(f"not a Clazar stack: its template cannot be read ({error})") from None
    identity = identify(deployed)
    expected, source = reference(identity, bucket=bucket, prefix=prefix, s3=run.client("s3"))
    found = differences(deployed, expected)
    if found:
        raise NotOurs(f"differs from {source}: {summarised(found)}")
    run.record(OK, "template", source)
    declared = expected.get("Parameters", {})
    values = {
        p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
        for p in stack.get("Parameters", [])
        if p["ParameterKey"] in declared
    }
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
        for res in page["StackResourceSummaries"]:
            if res.get("LogicalResourceId"):
                run.physical[res["LogicalResourceId"]] = res.get("PhysicalResourceId", "")
    return resolve(expected, values, region=stack["StackId"].split(":")[3])
