"""Roles: every role the stack outputs exists, trusts Clazar, and carries its policies.

Proves each role Clazar will assume (an output ending in ``RoleArn``) can be read from IAM;
runs the trust check of each; for the roles the stack created, the checks that nothing was
added to their trust and role policies; for a role the stack reuses (given by the seller),
a warning for each other principal its trust policy lets assume it.
"""

from __future__ import annotations

from ..errors import aws_message
from .report import FAIL, OK, WARN
from .role_policies import check_role_policies
from .run import CheckRun, document
from .trust import check_trust, check_trust_unchanged

__all__ = ["check_roles"]


def check_roles(run: CheckRun, account: str | None, external_id: str | None) -> list[str]:
    """Check every role the stack outputs (the ones Clazar assumes); their ARNs."""
    arns = [v for k, v in run.outputs.items() if k.endswith("RoleArn") and ":role/" in v]
    iam = run.client("iam")
    by_name = {run.physical.get(k): k for k, _ in run.of_type("AWS::IAM::Role")}
    unreadable: tuple[type[Exception], ...] = (*run.errors, ValueError)
    for arn in arns:
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
    return arns
