"""Trust: each role lets Clazar's account assume it, only with the external ID, and no one
else was let in.

Proves the link Clazar uses: a trust statement allows ``sts:AssumeRole`` to Clazar's account
(as the template grants it) and requires exactly the stack's external ID (FAIL otherwise);
each trust statement the stack did not write, or that was changed, says who else may assume
the role (WARN).
"""

from __future__ import annotations

from typing import Any

from ...patterns import fullmatch
from ...template.reading import as_list, principals, statements
from .drift import statement_changes
from .report import FAIL, OK, WARN
from .run import CheckRun

__all__ = ["check_trust", "check_trust_unchanged", "trusted_vendor"]


def trusted_vendor(run: CheckRun) -> tuple[str | None, str | None]:
    """Clazar's account and the external ID, as the template grants them."""
    for _, props in run.of_type("AWS::IAM::Role"):
        for st in statements(props.get("AssumeRolePolicyDocument")):
            if st.get("Sid") == "TrustClazarAccount":
                named = principals(st, "AWS")
                account = run.value(named[0]) if len(named) == 1 else None
                root = fullmatch(r"arn:[^:]+:iam::([0-9]{12}):root", account)
                external = st["Condition"]["StringEquals"]["sts:ExternalId"]
                return (root.group(1) if root else None), str(external)
    for _, props in run.of_type("Custom::ClazarReporter"):
        if "VendorAccountId" in props:
            return str(props["VendorAccountId"]), str(props.get("ExternalId"))
    return None, run.outputs.get("ExternalId")


def check_trust(
    run: CheckRun, name: str, doc: dict[str, Any], account: str | None, ext: str | None
) -> None:
    """Record whether the role ``name``'s trust policy ``doc`` lets ``account`` assume it
    with the external ID ``ext``."""
    subject = f"role {name} trust"
    for st in statements(doc):
        actions = as_list(st.get("Action"))
        if st.get("Effect") != "Allow" or "sts:AssumeRole" not in actions:
            continue
        if not any(
            p in (account, f"arn:{run.partition}:iam::{account}:root")
            for p in principals(st, "AWS")
        ):
            continue
        equals = (st.get("Condition") or {}).get("StringEquals")
        given = equals.get("sts:ExternalId") if isinstance(equals, dict) else None
        if given is None:
            run.record(FAIL, subject, f"trusts {account} without requiring the external ID")
        elif ext not in as_list(given):
            run.record(FAIL, subject, f"external ID is {given!r}, expected {ext!r}")
        else:
            run.record(OK, subject, f"Clazar's account {account}, external ID {ext}")
        return
    run.record(FAIL, subject, f"does not let Clazar's account {account} assume it")


def check_trust_unchanged(run: CheckRun, name: str, logical: str, doc: dict[str, Any]) -> None:
    """Warn about each trust statement the stack did not write or that was changed (who
    else may assume the role); a missing one is :func:`check_trust`'s failure."""
    props = run.resources[logical].get("Properties", {})
    expected = run.concrete(props.get("AssumeRolePolicyDocument", {}))
    for change in statement_changes(expected, doc):
        if not change.endswith(" is missing"):
            run.record(WARN, f"role {name} trust", f"not created by this stack: {change}")
