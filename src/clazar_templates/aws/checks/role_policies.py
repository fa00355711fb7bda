"""Role policies: each role carries exactly the policies the template gives it.

Proves the role can do what Clazar needs and no more than was reviewed: every inline policy
of the template is on the role with the same statements (FAIL when one is missing or
changed), every managed policy is attached and the permissions boundary is the template's
(FAIL); an inline or managed policy or boundary the stack did not set is a WARN, one line
per item.
"""

from __future__ import annotations

import json
from typing import Any

from .concrete import UNKNOWN
from .drift import grants, statement_changes
from .report import FAIL, OK, WARN
from .run import CheckRun, document

__all__ = ["check_role_policies"]


def check_role_policies(run: CheckRun, iam: Any, role: dict[str, Any], logical: str) -> None:
    """Record the policies of ``role`` (as IAM answers it), the template's ``logical``."""
    name = role["RoleName"]
    inline, managed, boundary = _expected(run, logical)
    problems = _inline_policies(run, iam, name, inline)
    problems += _managed_policies(run, iam, name, managed)
    have = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if have != boundary:
        if boundary is None:
            run.record(WARN, f"role {name} boundary", f"{have} was not set by this stack")
        else:
            problems += 1
            run.record(FAIL, f"role {name} boundary", f"is {have}, expected {boundary}")
    if not problems:
        listed = ", ".join([*inline, *(arn.rsplit("/", 1)[-1] for arn in managed)])
        run.record(OK, f"role {name} policies", listed or "none expected")


def _expected(run: CheckRun, logical: str) -> tuple[dict[str, Any], list[str], str | None]:
    """The role's inline policies (name -> document), managed policy ARNs and
    permissions boundary, as AWS holds them for this stack."""
    inline: dict[str, Any] = {}
    for policy_id, props in run.of_type("AWS::IAM::Policy"):
        if {"Ref": logical} in props.get("Roles", []):
            inline[props.get("PolicyName", policy_id)] = run.concrete(props["PolicyDocument"])
    role = run.resources[logical].get("Properties", {})
    for policy in role.get("Policies", []):
        inline[policy["PolicyName"]] = run.concrete(policy["PolicyDocument"])
    managed = [str(run.concrete(arn)) for arn in role.get("ManagedPolicyArns", [])]
    boundary = role.get("PermissionsBoundary")
    return inline, managed, None if boundary is None else str(run.concrete(boundary))


def _inline_policies(run: CheckRun, iam: Any, name: str, expected: dict[str, Any]) -> int:
    """Record each missing, changed (FAIL) or extra (WARN) inline policy; the FAILs."""
    pages = iam.get_paginator("list_role_policies").paginate(RoleName=name)
    attached = [p for page in pages for p in page["PolicyNames"]]
    failures = 0
    for policy in [*expected, *(p for p in attached if p not in expected)]:
        subject = f"role {name} policy {policy}"
        if policy not in attached:
            failures += 1
            run.record(FAIL, subject, "is missing")
            continue
        answer = iam.get_role_policy(RoleName=name, PolicyName=policy)
        try:
            found = document(answer["PolicyDocument"])
        except ValueError:
            failures += policy in expected
            run.record(FAIL, subject, "is not a JSON policy document")
            continue
        if policy not in expected:
            run.record(WARN, subject, f"not created by this stack: {grants(found)}")
        elif UNKNOWN in json.dumps(expected[policy]):
            run.record(WARN, subject, "cannot be compared: a value AWS names is unknown")
        elif changes := statement_changes(expected[policy], found):
            failures += 1
            run.record(FAIL, subject, "differs from the template: " + "; ".join(changes))
    return failures


def _managed_policies(run: CheckRun, iam: Any, name: str, expected: list[str]) -> int:
    """Record each managed policy missing (FAIL) or attached by someone else (WARN)."""
    pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
    attached = {p["PolicyArn"]: p["PolicyName"] for page in pages for p in page["AttachedPolicies"]}
    failures = 0
    for arn in expected:
        if arn not in attached:
            failures += 1
            policy = arn.rsplit("/", 1)[-1]
            run.record(FAIL, f"role {name} policy {policy}", f"{arn} is not attached")
    for arn, policy in attached.items():
        if arn not in expected:
            run.record(WARN, f"role {name} policy {policy}", f"{arn} attached, not by this stack")
    return failures
