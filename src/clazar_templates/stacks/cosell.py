"""The Co-Sell Roles stack (``clazar-cosell``): AWS Partner Central roles for Clazar.

ClazarResourceSnapshotJobRole (for Partner Central's resource snapshot jobs), SandboxRole
and ProductionRole, each of the last two created here or reused from roles you already
have (a reused role is never modified: the report says what it was not given), then the
reporter, which looks every role up (its real ARN, its trust of Clazar) and reports both
ARNs to Clazar.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Join, Ref, Template, iam

from .. import policies as p
from ..options import CosellOptions
from .base import Flag, StackBuilder, pick, present, unless, vendor_root, when
from .messaging import (
    add_queue,
    add_queue_policy,
    add_rules,
    dead_letter_queue,
    event_rules_flag,
    rule_arns,
)
from .reporting import add_reporter
from .suppressions import INLINE_POLICY, NO_RESOURCE_TYPE, Suppression, scanner_metadata

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


EVENTS_QUEUE = "ClazarCosellEventsQueue"
EVENT_RULES = {
    # logical ID: (every event of these sources, on the default bus in us-east-1)
    "ClazarCosellEventsRule": (
        ("aws.partnercentral-selling", "aws.partnercentral-channel"),
        "AWS Partner Central selling and channel events to the Clazar co-sell queue",
    ),
}
REPORTER = "ClazarCosellReporter"
SNAPSHOT_ROLE = "ClazarResourceSnapshotJobRole"
PRODUCTION_ACCESS = "BeyondManagedPolicy"  # the Production role's grants AWS's policy lacks


def build_cosell(options: CosellOptions | None = None) -> Template:
    """The Co-Sell template for ``options`` (all left to deploy time by default)."""
    b = StackBuilder(options or CosellOptions(), NAME, DESCRIPTION)
    snapshot = snapshot_job_role(b)
    roles = {logical: cosell_role(b, logical, snapshot) for logical in ROLES}
    events, queue_arns = cosell_events(b)
    report = {
        "ExternalId": b.value("external_id"),
        **{
            f"{name}Created": pick(created, "true", "false") for name, (created, _) in roles.items()
        },
        "EventBridge": pick(events, "true", "false"),
        "SnapshotJobRoleCreated": pick(snapshot, "true", "false"),
    }
    if snapshot is not False:
        report["SnapshotJobRoleArn"] = when(snapshot, GetAtt(SNAPSHOT_ROLE, "Arn"))
    lacks = production_lacks(roles["ProductionRole"][0], snapshot)
    if lacks is not None:
        report["ProductionRoleLacks"] = lacks
    if events is not False:
        report["EventsQueueUrl"] = when(events, Ref(EVENTS_QUEUE))
        report["EventRuleArns"] = when(events, Join(",", rule_arns(EVENT_RULES)))
    add_reporter(
        b,
        REPORTER,
        report=report,
        policies=[],  # the roles carry their policies inline and as managed ARNs
        extra_statements=(p.read_account_roles(),),
        extra_properties={
            "VerifyRoles": {logical: role for logical, (_, role) in roles.items()},
            "VendorAccountId": b.value("clazar_account_id"),
            "ExternalId": b.value("external_id"),
        },
    )
    events_queue_policy(b, events, queue_arns)
    outputs(b, events, snapshot)
    return b.finish()


def snapshot_job_role(b: StackBuilder) -> Flag:
    """With CreateSnapshotJobRole=true: the role Partner Central's resource snapshot jobs
    assume, with AWS's managed policy for them. CloudFormation names it (IAM names are
    global, and a name would keep the stack from being deployed twice)."""
    create = b.flag("create_snapshot_job_role")
    b.add(
        iam.Role(
            SNAPSHOT_ROLE,
            Description="Assumed by AWS Partner Central resource snapshot jobs (multi-partner "
            "opportunities), registered by Clazar",
            AssumeRolePolicyDocument=p.document(p.trust_snapshot_job_service()),
            ManagedPolicyArns=[p.managed_policy_arn(p.PARTNER_CENTRAL_SNAPSHOT_JOB)],
        ),
        create,
    )
    return create


def cosell_role(b: StackBuilder, logical: str, snapshot: Flag) -> tuple[Flag, Any]:
    """Create ``logical`` unless an existing role is given; (created?, role name or ARN)."""
    field, managed, deny, purpose = ROLES[logical]
    create, given = b.made_or_given(field)
    policies = [iam.Policy(PolicyName="StayInCatalog", PolicyDocument=p.document(deny()))]
    suppress: tuple[Suppression, ...] = (INLINE_POLICY,)
    if logical == "ProductionRole":
        policies.append(
            iam.Policy(
                PolicyName=PRODUCTION_ACCESS,
                PolicyDocument=p.document(*production_grants(snapshot)),
            )
        )
        suppress = (*suppress, NO_RESOURCE_TYPE)
    b.add(
        iam.Role(
            logical,
            Description=purpose,
            Metadata=scanner_metadata(*suppress),
            AssumeRolePolicyDocument=p.document(
                p.trust_clazar_account(vendor_root(b), b.value("external_id"))
            ),
            ManagedPolicyArns=[p.managed_policy_arn(managed)],
            Policies=policies,
        ),
        create,
    )
    return create, pick(create, GetAtt(logical, "Arn"), given)


def production_grants(snapshot: Flag) -> list[Any]:
    """What the Production role needs beyond AWSPartnerCentralOpportunityManagement: reading
    offers and agreements, and (with the snapshot job role) registering that role."""
    return present(
        p.read_offers_and_agreements(),
        when(snapshot, p.register_snapshot_job_role()),
        when(snapshot, p.pass_snapshot_job_role(GetAtt(SNAPSHOT_ROLE, "Arn"))),
    )


def production_lacks(created: Flag, snapshot: Flag) -> Any:
    """For a reused Production role, which this stack never modifies: the actions of
    :func:`production_grants` it was not given, for the report; None when always created."""
    reads = _actions(p.read_offers_and_agreements())
    everything = _actions(*production_grants(True))
    return unless(created, pick(snapshot, everything, reads))


def _actions(*statements: Any) -> str:
    return " ".join(action.JSONrepr() for st in statements for action in st.Action)


def cosell_events(b: StackBuilder) -> tuple[Flag, list[Any]]:
    """With EnableEventBridge=true: a queue for co-sell events. Returns whether it exists and
    the ARNs of the queue and its dead-letter queue (which also keeps what the rule could not
    deliver)."""
    rules = event_rules_flag(b)
    if rules is False:
        return False, []
    dead_letters = GetAtt(dead_letter_queue(EVENTS_QUEUE), "Arn")
    readers = p.cosell_roles_redrive_dead_letters(role_readers(), dead_letters)
    undelivered = p.keep_undelivered_events(dead_letters, rule_arns(EVENT_RULES))
    return rules, list(add_queue(b, EVENTS_QUEUE, rules, [undelivered, readers]))


def role_readers() -> list[Any]:
    """The co-sell roles' ARNs as the reporter resolved them (a reused role's real ARN, path
    included), for the queue policies."""
    return [GetAtt(REPORTER, f"{logical}Arn") for logical in ROLES]


def events_queue_policy(b: StackBuilder, rules: Flag, queue_arns: list[Any]) -> None:
    """The rule for co-sell events, and who may use their queue: the rule sends; the co-sell
    roles read, and send back what they redrive from the dead-letter queue."""
    if rules is False:
        return
    rule_arns = add_rules(b, EVENT_RULES, EVENTS_QUEUE, rules)
    queue_arn = queue_arns[0]
    add_queue_policy(
        b,
        f"{EVENTS_QUEUE}Policy",
        EVENTS_QUEUE,
        [
            p.deliver_events_to_queue(queue_arn, rule_arns),
            p.cosell_roles_read_events(role_readers(), queue_arn),
            p.cosell_roles_return_dead_letters(role_readers(), queue_arn),
        ],
        rules,
    )


def outputs(b: StackBuilder, events: Flag, snapshot: Flag) -> None:
    for logical in ROLES:
        b.output(
            f"{logical}Arn",
            f"ARN of the {logical} Clazar uses (created or reused)",
            GetAtt(REPORTER, f"{logical}Arn"),
        )
    b.output("ExternalId", "The external ID Clazar presents", b.value("external_id"))
    b.output(
        "ClazarCosellEventsQueueUrl",
        "Queue of Partner Central co-sell events",
        Ref(EVENTS_QUEUE),
        events,
    )
    b.output(
        "SnapshotJobRole",
        "ARN of ClazarResourceSnapshotJobRole, which Clazar registers with Partner Central",
        GetAtt(SNAPSHOT_ROLE, "Arn"),
        snapshot,
    )
