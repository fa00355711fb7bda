"""The one reader of template data: a template's text as plain data, where its policy
documents live, and their statements and principals.

Everything that reads a template (the permission reference, the diff, the diagram, the live
check, the policy safety test) reads it with these.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..extras import require

__all__ = [
    "BEYOND_POLICIES",
    "GRANTS_NOTHING",
    "NO_VALUE",
    "POLICY_PLACES",
    "Place",
    "as_list",
    "every_branch",
    "load_template",
    "policy_documents",
    "principals",
    "statements",
    "unread_properties",
]


def load_template(text: str) -> dict[str, Any]:
    """A YAML or JSON template as plain data, short-form intrinsics (``!Sub``) expanded.

    Read with cfn-lint's decoder, as ``lint`` reads it; a ValueError names the first problem
    when ``text`` is not a CloudFormation template.
    """
    require("lint", "reading a template")
    from cfnlint.decode.decode import decode_str

    template, problems = decode_str(text)
    if problems or not isinstance(template, dict) or "Resources" not in template:
        raise ValueError(problems[0].message if problems else "no Resources section")
    return dict(json.loads(json.dumps(template)))


# --- values -------------------------------------------------------------------------------

NO_VALUE = {"Ref": "AWS::NoValue"}


def as_list(value: Any) -> list[Any]:
    """A value IAM or CloudFormation allows as one item or a list, as a list (None: [])."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def every_branch(value: Any) -> list[Any]:
    """Every item ``value`` may hold in some deployment: both branches of each ``Fn::If`` (of
    the whole value or of one item), nested lists flattened, ``AWS::NoValue`` left out."""
    if value is None or value == NO_VALUE:
        return []
    if isinstance(value, dict) and "Fn::If" in value:
        return [x for branch in value["Fn::If"][1:] for x in every_branch(branch)]
    if isinstance(value, list):
        return [x for item in value for x in every_branch(item)]
    return [value]


# --- policy documents ---------------------------------------------------------------------


def statements(document: Any, branches: bool = False) -> list[dict[str, Any]]:
    """The statements of a policy document (one statement or a list; anything else: none);
    with ``branches``, those of both branches of a conditional one (see :func:`every_branch`)."""
    found = document.get("Statement") if isinstance(document, Mapping) else None
    items = every_branch(found) if branches else as_list(found)
    return [st for st in items if isinstance(st, dict)]


def principals(statement: Mapping[str, Any], kind: str) -> list[Any]:
    """The statement's principals of ``kind`` ("AWS", "Service"); none for ``"*"`` or when it
    names none (a seller's own policy may say anything)."""
    principal = statement.get("Principal")
    return as_list(principal.get(kind)) if isinstance(principal, dict) else []


@dataclass(frozen=True)
class Place:
    """Where a resource type keeps a policy document, or another grant of access, and what
    it applies to."""

    # "trust", "identity", "managed" (ARNs, AWS holds the document), "resource", "key"
    # (policy documents); "permission" (a resource policy statement made of the resource's
    # own properties: Principal, Action...), "membership" (group names), "credential" (a
    # way to sign in as a user: an access key, a console password)
    kind: str
    label: str  # what a reader calls it: "trust policy", "queue policy", ...
    # the property holding it ("Policies": a list of PolicyName/PolicyDocument; "Statement":
    # one statement; "": the resource's properties themselves)
    document: str
    applies_to: str = ""  # the property naming what it applies to; "": the resource itself


def _attached(label: str, *targets: str) -> tuple[Place, ...]:
    """A policy document attached to the roles, users and groups that ``targets`` name."""
    return tuple(Place("identity", label, "PolicyDocument", t) for t in targets)


# The one table of where a template's grants of access live, in the order each resource
# type's are read: every type cfn-lint validates as an identity, trust or resource policy
# (its rules E3510, E3511, E3512, E3513), and the IAM resources that make a principal or a
# way to act as one. A type neither here nor in GRANTS_NOTHING cannot be reviewed.
POLICY_PLACES: dict[str, tuple[Place, ...]] = {
    "AWS::IAM::Role": (
        Place("trust", "trust policy", "AssumeRolePolicyDocument"),
        Place("identity", "inline policy", "Policies"),
        Place("managed", "AWS managed policy", "ManagedPolicyArns"),
    ),
    "AWS::IAM::User": (
        Place("identity", "inline policy", "Policies"),
        Place("managed", "AWS managed policy", "ManagedPolicyArns"),
        Place("membership", "group membership", "Groups"),
        Place("credential", "console password", "LoginProfile"),
    ),
    "AWS::IAM::Group": (
        Place("identity", "inline policy", "Policies"),
        Place("managed", "AWS managed policy", "ManagedPolicyArns"),
    ),
    "AWS::IAM::Policy": _attached("AWS::IAM::Policy", "Roles", "Users", "Groups"),
    "AWS::IAM::ManagedPolicy": _attached("AWS::IAM::ManagedPolicy", "Roles", "Users", "Groups"),
    "AWS::IAM::RolePolicy": _attached("AWS::IAM::RolePolicy", "RoleName"),
    "AWS::IAM::UserPolicy": _attached("AWS::IAM::UserPolicy", "UserName"),
    "AWS::IAM::GroupPolicy": _attached("AWS::IAM::GroupPolicy", "GroupName"),
    "AWS::IAM::UserToGroupAddition": (Place("membership", "group membership", "", "Users"),),
    "AWS::IAM::AccessKey": (Place("credential", "access key", "", "UserName"),),
    "AWS::S3::BucketPolicy": (Place("resource", "bucket policy", "PolicyDocument", "Bucket"),),
    "AWS::SQS::QueuePolicy": (Place("resource", "queue policy", "PolicyDocument", "Queues"),),
    "AWS::SQS::QueueInlinePolicy": (Place("resource", "queue policy", "PolicyDocument", "Queue"),),
    "AWS::SNS::TopicPolicy": (Place("resource", "topic policy", "PolicyDocument", "Topics"),),
    "AWS::SNS::TopicInlinePolicy": (
        Place("resource", "topic policy", "PolicyDocument", "TopicArn"),
    ),
    "AWS::KMS::Key": (Place("key", "key policy", "KeyPolicy"),),
    "AWS::KMS::ReplicaKey": (Place("key", "key policy", "KeyPolicy"),),
    "AWS::SecretsManager::ResourcePolicy": (
        Place("resource", "secret policy", "ResourcePolicy", "SecretId"),
    ),
    "AWS::Events::EventBusPolicy": (
        Place("resource", "event bus policy", "Statement", "EventBusName"),
        Place("permission", "event bus policy", "", "EventBusName"),
    ),
    "AWS::Lambda::Permission": (Place("permission", "function policy", "", "FunctionName"),),
    "AWS::Lambda::LayerVersionPermission": (
        Place("permission", "layer policy", "", "LayerVersionArn"),
    ),
    "AWS::ECR::Repository": (Place("resource", "repository policy", "RepositoryPolicyText"),),
    "AWS::OpenSearchService::Domain": (
        Place("resource", "domain access policy", "AccessPolicies"),
    ),
}

# Resource types that hold no policy of their own, each with the properties that can still
# open access without one (a canned ACL, the public access block, the role a function runs
# as, which may be one the template does not hold): the gate compares those whole, and a
# change to one cannot be reviewed. The permission reference test holds these
# against cfn-lint's resource schemas: every property whose name says policy, permission,
# principal, ACL or public is listed here or named there as holding none.
GRANTS_NOTHING: dict[str, tuple[str, ...]] = {
    "AWS::S3::Bucket": ("AccessControl", "PublicAccessBlockConfiguration", "OwnershipControls"),
    "AWS::SQS::Queue": ("RedriveAllowPolicy",),
    "AWS::SNS::Topic": (),
    "AWS::SNS::Subscription": ("SubscriptionRoleArn",),
    "AWS::KMS::Alias": (),
    "AWS::Lambda::Function": ("Role",),
    "AWS::Logs::LogGroup": ("ResourcePolicyDocument",),
    "AWS::Events::Rule": ("RoleArn",),
    "AWS::CloudFormation::CustomResource": (),  # its function's role is reviewed
    "AWS::CloudFormation::WaitConditionHandle": (),
    "AWS::CloudFormation::WaitCondition": (),
}


# Properties of types in POLICY_PLACES that widen access outside their policy documents: a
# permissions boundary removed or changed lets the role's or user's own policies do more.
BEYOND_POLICIES: dict[str, tuple[str, ...]] = {
    "AWS::IAM::Role": ("PermissionsBoundary",),
    "AWS::IAM::User": ("PermissionsBoundary",),
}


def unread_properties(resource_type: str) -> tuple[str, ...] | None:
    """The properties of ``resource_type`` that can open access where no policy place reads
    them (see GRANTS_NOTHING, BEYOND_POLICIES): the gate compares them whole. None for a
    type the gate cannot review (a nested stack, a type it does not know)."""
    if resource_type.startswith("Custom::"):
        resource_type = "AWS::CloudFormation::CustomResource"
    if resource_type in POLICY_PLACES:
        return BEYOND_POLICIES.get(resource_type, ())
    return GRANTS_NOTHING.get(resource_type)


def policy_documents(resources: Mapping[str, Any]) -> Iterator[tuple[str, Place, Any, Any]]:
    """(logical ID, place, applies-to value, document value) of every policy place of every
    resource, in template order; a value is None where the resource leaves it out, and the
    applies-to value is None for a place that applies to its own resource. The document of a
    place whose ``document`` is "" is the resource's properties."""
    for logical, resource in resources.items():
        props = resource.get("Properties", {}) if isinstance(resource, Mapping) else {}
        for place in POLICY_PLACES.get(resource.get("Type", ""), ()):
            applies_to = props.get(place.applies_to) if place.applies_to else None
            document = props.get(place.document) if place.document else props
            yield logical, place, applies_to, document
