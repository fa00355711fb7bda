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
    "NO_VALUE",
    "POLICY_PLACES",
    "Place",
    "as_list",
    "every_branch",
    "load_template",
    "policy_documents",
    "principals",
    "statements",
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
    """Where a resource type keeps a policy document, and what the document applies to."""

    kind: str  # "trust", "identity", "managed" (ARNs, AWS holds the document), "resource", "key"
    label: str  # what a reader calls it: "trust policy", "queue policy", ...
    document: str  # the property holding it ("Policies": a list of PolicyName/PolicyDocument)
    applies_to: str = ""  # the property naming what it applies to; "": the resource itself


# The one table of where a template's policy documents live, in the order each resource
# type's are read.
POLICY_PLACES: dict[str, tuple[Place, ...]] = {
    "AWS::IAM::Role": (
        Place("trust", "trust policy", "AssumeRolePolicyDocument"),
        Place("identity", "inline policy", "Policies"),
        Place("managed", "AWS managed policy", "ManagedPolicyArns"),
    ),
    "AWS::IAM::Policy": (Place("identity", "AWS::IAM::Policy", "PolicyDocument", "Roles"),),
    "AWS::IAM::ManagedPolicy": (
        Place("identity", "AWS::IAM::ManagedPolicy", "PolicyDocument", "Roles"),
    ),
    "AWS::S3::BucketPolicy": (Place("resource", "bucket policy", "PolicyDocument", "Bucket"),),
    "AWS::SQS::QueuePolicy": (Place("resource", "queue policy", "PolicyDocument", "Queues"),),
    "AWS::SQS::QueueInlinePolicy": (Place("resource", "queue policy", "PolicyDocument", "Queue"),),
    "AWS::SNS::TopicPolicy": (Place("resource", "topic policy", "PolicyDocument", "Topics"),),
    "AWS::SNS::TopicInlinePolicy": (
        Place("resource", "topic policy", "PolicyDocument", "TopicArn"),
    ),
    "AWS::KMS::Key": (Place("key", "key policy", "KeyPolicy"),),
}


def policy_documents(resources: Mapping[str, Any]) -> Iterator[tuple[str, Place, Any, Any]]:
    """(logical ID, place, applies-to value, document value) of every policy place of every
    resource, in template order; a value is None where the resource leaves it out, and the
    applies-to value is None for a place that applies to its own resource."""
    for logical, resource in resources.items():
        props = resource.get("Properties", {}) if isinstance(resource, Mapping) else {}
        for place in POLICY_PLACES.get(resource.get("Type", ""), ()):
            applies_to = props.get(place.applies_to) if place.applies_to else None
            yield logical, place, applies_to, props.get(place.document)
