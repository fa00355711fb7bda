"""Helpers for reading templates as data (CDK-assertions style)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from clazar_templates.template.resolve import resolve

ACCOUNT = "111122223333"  # the seller's account in moto
VENDOR = "999988887777"  # Clazar's account
EXTERNAL_ID = "clazar-external-id-0001"
SECRET = "s3cr3t-0123456789-abcdef"
UID = "acct_12345"

DEPLOY_VALUES = {
    "ClazarAccountId": VENDOR,
    "ExternalId": EXTERNAL_ID,
    "ClazarAccountUid": UID,
    "ClazarSecretKey": SECRET,
}

# The Role & Access role's policies that exist whatever the options (the documents' list).
ALWAYS_POLICIES = frozenset(
    {
        "ClazarRolePolicyAccess",
        "ClazarSqsAccess",
        "ClazarMarketplaceSnsAccessPolicy",
        "ClazarAnalyticsSnsAccessPolicy",
        "ClazarS3AccessPolicy",
        "ClazarKmsKeyAccessPolicy",
    }
)


def as_dict(template: Any) -> dict[str, Any]:
    return template.to_dict() if hasattr(template, "to_dict") else template


def resources(template: Any, kind: str | None = None) -> dict[str, Any]:
    """Logical ID -> resource, optionally only of CloudFormation type ``kind``."""
    found = as_dict(template).get("Resources", {})
    return {k: v for k, v in found.items() if kind is None or v["Type"] == kind}


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def role_statements(resolved: dict[str, Any], role: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(policy logical ID or inline name, statement) of every identity policy on ``role``."""
    for logical, res in resolved["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Policy" and {"Ref": role} in props.get("Roles", []):
            for st in statements(props["PolicyDocument"]):
                yield logical, st
        if logical == role:
            for inline in props.get("Policies", []):
                for st in statements(inline["PolicyDocument"]):
                    yield inline["PolicyName"], st


def by_sid(resolved: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    return {st["Sid"]: st for _, st in role_statements(resolved, role)}


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def deployed(template: Any, region: str = "us-east-1", **parameters: str) -> dict[str, Any]:
    """The template resolved as CloudFormation would deploy it with ``parameters``."""
    data = as_dict(template)
    declared = data.get("Parameters", {})
    values = {k: v for k, v in {**DEPLOY_VALUES, **parameters}.items() if k in declared}
    return resolve(data, values, region=region)
