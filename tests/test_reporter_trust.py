"""The co-sell reporter's check of a reused role's whole trust policy (issue 24, item 7): a
role anyone can assume, or whose Clazar statement accepts other external IDs, is refused;
every other principal it trusts is reported to Clazar. Runs the shipped code's role check
directly, IAM answered by a stand-in (moto enforces nothing here anyway)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from reporter_support import ACCOUNT, EXTERNAL_ID, VENDOR, shipped_handler

h = shipped_handler()
ROOT = f"arn:aws:iam::{VENDOR}:root"
OTHER = "arn:aws:iam::444455556666:root"
ARN = f"arn:aws:iam::{ACCOUNT}:role/team/sb"


def clazar(external_id: Any = EXTERNAL_ID, principal: Any = ROOT) -> dict[str, Any]:
    """The statement the README asks a seller to write for Clazar."""
    return {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
    }


def verify(monkeypatch: pytest.MonkeyPatch, *statements: dict[str, Any]) -> tuple[Any, list[str]]:
    """Run the role check of a SandboxRole whose trust policy holds ``statements``."""
    doc = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})

    def aws(service: str, seconds: float, action: str, **params: Any) -> Any:
        assert (service, action, params) == ("iam", "get_role", {"RoleName": "sb"})
        return {"Role": {"Arn": ARN, "AssumeRolePolicyDocument": doc}}

    monkeypatch.setattr(h, "_aws", aws)
    props = {"VerifyRoles": {"SandboxRole": "sb"}, "VendorAccountId": VENDOR}
    props["ExternalId"] = EXTERNAL_ID
    return h._verify_roles(props, "aws", ACCOUNT, time.monotonic() + 3600)


ANYONE = [
    {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "sts:Assume*"},
    {"Effect": "Allow", "NotPrincipal": {"AWS": OTHER}, "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "NotAction": "sts:TagSession"},
]


@pytest.mark.parametrize("extra", ANYONE, ids=["star", "aws-star", "list", "not", "notaction"])
def test_a_role_anyone_can_assume_is_refused(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any]
) -> None:
    """The external ID is not a secret: a second statement letting anyone in, even with the
    external ID as its condition, opens the role to everyone who knows it."""
    extra = {**extra, "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}
    data, errors = verify(monkeypatch, clazar(), extra)
    assert data == {"SandboxRoleArn": ""}
    assert errors == [
        'SandboxRole "sb" can be assumed by any principal: its trust policy allows '
        'Principal "*" or has an Allow statement with NotPrincipal; remove it'
    ]


def test_a_clazar_statement_accepting_other_external_ids_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, errors = verify(monkeypatch, clazar([EXTERNAL_ID, "someone-elses-id"]))
    assert data == {"SandboxRoleArn": ""}
    assert errors == [
        f'SandboxRole "sb" accepts external IDs other than "{EXTERNAL_ID}" in its trust '
        f'policy; make Condition StringEquals sts:ExternalId "{EXTERNAL_ID}" the only one of '
        f"its statement that trusts {ROOT}"
    ]


def test_a_second_clazar_statement_without_the_external_id_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any principal of Clazar's account (a role of it too) must need the external ID."""
    bare = clazar(principal=f"arn:aws:iam::{VENDOR}:role/x")
    del bare["Condition"]
    _, errors = verify(monkeypatch, clazar(), bare)
    assert errors[0].startswith('SandboxRole "sb" does not require the external ID')


def test_every_other_trusted_principal_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seller may trust its own accounts; Clazar must know who else holds the role."""
    data, errors = verify(
        monkeypatch,
        clazar(principal=[ROOT, "210987654321"]),
        {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:*"},
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::777777777777:root"}, "Action": "*"},
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::888888888888:root"},
            "Action": "sts:TagSession",
        },
    )
    assert errors == []
    assert data == {
        "SandboxRoleArn": ARN,
        "SandboxRoleOtherPrincipals": (f"AWS:210987654321, AWS:{OTHER}, Service:ec2.amazonaws.com"),
    }


def test_a_role_trusting_only_clazar_reports_no_one_else(monkeypatch: pytest.MonkeyPatch) -> None:
    assert verify(monkeypatch, clazar()) == ({"SandboxRoleArn": ARN}, [])
