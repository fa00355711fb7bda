"""The Co-Sell Roles stack (``clazar-cosell``): AWS Partner Central roles for Clazar.

SandboxRole and ProductionRole, each created here or reused from roles you already have,
then the reporter, which looks every role up (its real ARN, its trust of Clazar) and reports
both ARNs to Clazar.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Template, iam

from .. import policies as p
from ..options import CosellOptions
from .base import Flag, StackBuilder, pick, vendor_root
from .reporter import add_reporter

NAME = "clazar-cosell"
DESCRIPTION = (
    "Clazar Co-Sell Roles: the AWS Partner Central roles Clazar assumes with your external "
    "ID (Sandbox and Production catalogs), and a one-time report to Clazar"
)
ROLES = {
    # logical ID: (option field, managed policy, the deny that keeps it in its catalog, purpose)
    "SandboxRole": (
        "existing_sandbox_role",
        p.PARTNER_CENTRAL_SANDBOX,
        p.deny_production_catalog,
        "Clazar co-sell access to the Partner Central Sandbox catalog only",
    ),
    "ProductionRole": (
        "existing_production_role",
        p.PARTNER_CENTRAL_PRODUCTION,
        p.deny_sandbox_catalog,
        "Clazar co-sell access to the Partner Central production (AWS) catalog only",
    ),
}


def build_cosell(options: CosellOptions | None = None) -> Template:
    """The Co-Sell template for ``options`` (all left to deploy time by default)."""
    b = StackBuilder(options or CosellOptions(), NAME, DESCRIPTION)
    roles = {logical: cosell_role(b, logical) for logical in ROLES}
    add_reporter(
        b,
        "ClazarCosellReporter",
        report={
            "ExternalId": b.value("external_id"),
            **{
                f"{logical}Created": pick(created, "true", "false")
                for logical, (created, _) in roles.items()
            },
        },
        policies=[],  # the roles carry their policies inline and as managed ARNs
        extra_statements=(p.read_account_roles(),),
        extra_properties={
            "VerifyRoles": {logical: role for logical, (_, role) in roles.items()},
            "VendorAccountId": b.value("clazar_account_id"),
            "ExternalId": b.value("external_id"),
        },
    )
    outputs(b)
    return b.finish()


def cosell_role(b: StackBuilder, logical: str) -> tuple[Flag, Any]:
    """Create ``logical`` unless an existing role is given; (created?, role name or ARN)."""
    field, managed, deny, purpose = ROLES[logical]
    create, given = b.existing(field, f"Create{logical}")
    b.add(
        iam.Role(
            logical,
            Description=purpose,
            AssumeRolePolicyDocument=p.document(
                p.trust_clazar_account(vendor_root(b), b.value("external_id"))
            ),
            ManagedPolicyArns=[p.managed_policy_arn(managed)],
            Policies=[iam.Policy(PolicyName="StayInCatalog", PolicyDocument=p.document(deny()))],
        ),
        create,
    )
    return create, pick(create, GetAtt(logical, "Arn"), given)


def outputs(b: StackBuilder) -> None:
    for logical in ROLES:
        b.output(
            f"{logical}Arn",
            f"ARN of the {logical} Clazar uses (created or reused)",
            GetAtt("ClazarCosellReporter", f"{logical}Arn"),
        )
    b.output("ExternalId", "The external ID Clazar presents", b.value("external_id"))
