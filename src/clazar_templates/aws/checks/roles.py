"""Roles: every role the stack outputs exists, trusts Clazar, and carries its policies.

Proves each role Clazar will assume (an output ending in ``RoleArn``) can be read from IAM;
for the roles the stack created, runs the trust and role policy checks; a role the stack
reuses (given by the seller) is never modified by it: it is reported as such, with a warning
for each other principal its trust policy lets assume it and for what the stack would have
granted it (the reporter's ``<Role>Lacks``). The roles the stack creates for an AWS service
(e.g. ClazarResourceSnapshotJobRole) get the trust and role policy checks too.
"""

from __future__ import annotations

from typing import Any

from ..errors import aws_message
from .report import FAIL, OK, WARN
from .role_policies import check_role_policies
from .run import CheckRun, document
from .trust import check_trust, check_trust_unchanged

__all__ = ["check_roles"]


def check_roles(run: CheckRun, account: str | None, external_id: str | None) -> list[str]:
    """Check every role the stack outputs (the ones Clazar assumes); their ARNs."""
    outputs = {k: v for k, v in run.outputs.items() if k.endswith("RoleArn") and ":role/" in v}
    arns = list(outputs.values())
    iam = run.client("iam")
    by_name = {run.physical.get(k): k for k, _ in run.of_type("AWS::IAM::Role")}
    lacks = _lacks(run)
    unreadable: tuple[type[Exception], ...] = (*run.errors, ValueError)
    for output, arn in outputs.items():
        name = arn.rsplit("/", 1)[-1]
        try:
            role = iam.get_role(RoleName=name)["Role"]
            trust = document(role["AssumeRolePolicyDocument"])
        except unreadable as error:
            run.record(FAIL, f"role {name}", aws_message(error))
            continue
        others = check_trust(run, name, trust, account, external_id)
        logical = by_name.get(name)
        if logical:
            check_trust_unchanged(run, name, logical, trust)
            try:
                check_role_policies(run, iam, role, logical)
            except run.errors as error:
                run.record(FAIL, f"role {name} policies", aws_message(error))
        else:
            run.record(OK, f"role {name}", "reused (not created by this stack)")
            for other in others:
                run.record(WARN, f"role {name} trust", f"also lets {other} assume it")
            wanted = lacks.get(output.removesuffix("Arn"))
            if wanted:
                check_reused_grants(run, iam, name, arn, wanted.split())
    assumed = {a.rsplit("/", 1)[-1] for a in arns}
    for logical, _ in run.of_type("AWS::IAM::Role"):
        made = run.physical.get(logical)
        if made and made not in assumed and _for_a_service(run, logical):
            _check_service_role(run, iam, made, logical, unreadable)
    return arns


PASSED_ROLE_OUTPUT = "SnapshotJobRole"  # the role iam:PassRole is granted on, if any


def check_reused_grants(run: CheckRun, iam: Any, name: str, arn: str, actions: list[str]) -> None:
    """What a reused role lacks of ``actions`` (the stack gives them to a role it creates,
    and never modifies a reused one), as IAM's policy simulator answers for that role: a
    WARN naming each missing action, OK when it has them all, a WARN naming them all when
    the simulator cannot be asked (it ignores SCPs and resource policies: a hint, not a
    verdict)."""
    subject = f"role {name} grants"
    passed = run.outputs.get(PASSED_ROLE_OUTPUT, "*")
    try:
        missing = [
            action
            for action in actions
            if not _allowed(iam, arn, action, passed if action == "iam:PassRole" else "*")
        ]
    except run.errors as error:
        run.record(
            WARN,
            subject,
            f"cannot tell what this reused role lacks ({aws_message(error)}); the stack does "
            f"not modify it: it needs {', '.join(actions)} (see docs/permissions.md)",
        )
        return
    if missing:
        run.record(
            WARN,
            subject,
            f"lacks {', '.join(missing)}; the stack does not modify a reused role: grant them "
            "yourself (see docs/permissions.md)",
        )
    else:
        run.record(OK, subject, f"has {', '.join(actions)}")


def _allowed(iam: Any, arn: str, action: str, resource: str) -> bool:
    answer = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=[action], ResourceArns=[resource]
    )
    return all(r["EvalDecision"] == "allowed" for r in answer["EvaluationResults"])


def _lacks(run: CheckRun) -> dict[str, str]:
    """Role logical ID -> the actions the stack did not give that reused role (its
    reporter's Report ``<Role>Lacks``, as resolved for this stack)."""
    found: dict[str, str] = {}
    for _, props in run.of_type("Custom::ClazarReporter"):
        for key, value in (props.get("Report") or {}).items():
            if key.endswith("Lacks") and isinstance(value, str):
                found[key.removesuffix("Lacks")] = value
    return found


def _for_a_service(run: CheckRun, logical: str) -> bool:
    """Whether the template's role ``logical`` is assumed by an AWS service other than
    Lambda (the reporter's function role is the stack's own plumbing)."""
    trust = run.resources[logical].get("Properties", {}).get("AssumeRolePolicyDocument", {})
    principals = [st.get("Principal", {}) for st in trust.get("Statement", [])]
    services = {s for p in principals if isinstance(p, dict) for s in _listed(p.get("Service"))}
    return bool(services) and services != {"lambda.amazonaws.com"}


def _listed(value: object) -> list[object]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _check_service_role(
    run: CheckRun, iam: object, name: str, logical: str, unreadable: tuple[type[Exception], ...]
) -> None:
    try:
        role = iam.get_role(RoleName=name)["Role"]  # type: ignore[attr-defined]
        trust = document(role["AssumeRolePolicyDocument"])
    except unreadable as error:
        run.record(FAIL, f"role {name}", aws_message(error))
        return
    check_trust_unchanged(run, name, logical, trust)
    try:
        check_role_policies(run, iam, role, logical)
    except run.errors as error:
        run.record(FAIL, f"role {name} policies", aws_message(error))
