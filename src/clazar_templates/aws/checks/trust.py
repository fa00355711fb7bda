"""Trust: each role lets Clazar's account assume it, only with the external ID, and no one
else was let in.

Proves the link Clazar uses: a trust statement allows ``sts:AssumeRole`` to Clazar's account
(as the template grants it) and requires exactly the stack's external ID, and that no
statement lets any principal assume it (FAIL otherwise); each trust statement the stack did
not write, or that was changed, and each principal other than Clazar that a reused role
trusts, says who else may assume the role (WARN).
"""

from __future__ import annotations

from typing import Any

from ...patterns import fullmatch
from ...reporter.handler import read_trust
from ...template.reading import principals, statements
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
) -> list[str]:
    """Record whether the role ``name``'s trust policy ``doc`` lets ``account`` assume it
    with the external ID ``ext`` and only that one, and no principal at all may assume it
    (read as the co-sell reporter reads a reused role: :func:`read_trust`); every other
    principal it lets assume it ("<kind>:<value>")."""
    subject = f"role {name} trust"
    anyone, ids, others = read_trust(doc, str(account), run.partition)
    wrong = [i for i in ids if i != [ext]]
    if anyone:
        run.record(FAIL, subject, 'any principal can assume it (Principal "*" or NotPrincipal)')
    elif not ids:
        run.record(FAIL, subject, f"does not let Clazar's account {account} assume it")
    elif [] in wrong:
        run.record(FAIL, subject, f"trusts {account} without requiring the external ID")
    elif wrong:
        given = wrong[0][0] if len(wrong[0]) == 1 else wrong[0]
        run.record(FAIL, subject, f"external ID is {given!r}, expected {ext!r}")
    else:
        run.record(OK, subject, f"Clazar's account {account}, external ID {ext}")
    return others


def check_trust_unchanged(run: CheckRun, name: str, logical: str, doc: dict[str, Any]) -> None:
    """Warn about each trust statement the stack did not write or that was changed (who
    else may assume the role); a missing one is :func:`check_trust`'s failure."""
    props = run.resources[logical].get("Properties", {})
    expected = run.concrete(props.get("AssumeRolePolicyDocument", {}))
    for change in statement_changes(expected, doc):
        if not change.endswith(" is missing"):
            run.record(WARN, f"role {name} trust", f"not created by this stack: {change}")
