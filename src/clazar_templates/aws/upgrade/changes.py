"""What an upgrade's change set does to each resource, and to the data of those that hold it.

CloudFormation's change set says Add, Modify or Remove per logical ID, and for a Modify
whether it replaces the resource (``Replacement``: True, False or Conditional; moto leaves
it out). The replacement is also predicted offline: a resource is replaced when a property
its registry schema lists as ``createOnlyProperties`` differs between the two templates,
both resolved with the stack's parameter values. A replaced or removed *stateful* resource
(a bucket, the KMS key, a queue, a role Clazar assumes) is flagged with what happens to its
data, from its ``UpdateReplacePolicy`` or ``DeletionPolicy``; applying either needs consent
(``--accept-replacement``, ``--accept-removal``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ...template.schemas import resource_schema

__all__ = ["ResourceChange", "create_only_changes", "resource_changes"]

# What each stateful type holds, and what becomes of it when the old resource is deleted:
# when it is replaced (a new one exists), and when it is removed (nothing takes its place).
HOLDS = {
    "AWS::S3::Bucket": (
        "its objects",
        "CloudFormation cannot delete a bucket that holds objects: the cleanup fails and the "
        "bucket is left behind, outside the stack; an empty one is deleted",
        "CloudFormation cannot delete a bucket that holds objects: the cleanup fails and the "
        "bucket is left behind, outside the stack; an empty one is deleted",
    ),
    "AWS::KMS::Key": (
        "what it encrypts",
        "the key is scheduled for deletion: everything encrypted with it becomes unreadable "
        "once the waiting period ends",
        "the key is scheduled for deletion: everything encrypted with it becomes unreadable "
        "once the waiting period ends",
    ),
    "AWS::SQS::Queue": (
        "its messages",
        "the queue is deleted with the messages it holds",
        "the queue is deleted with the messages it holds",
    ),
    "AWS::IAM::Role": (
        "Clazar's access",
        "the role is deleted: Clazar cannot assume it until the new one exists, and the new "
        "role has a new ID",
        "the role is deleted and nothing replaces it: Clazar can no longer assume it, and "
        "what Clazar does with it for you stops",
    ),
}


@dataclass(frozen=True)
class ResourceChange:
    """One resource change of the change set, with the offline prediction and the data's fate."""

    action: str  # Add, Modify, Remove (as CloudFormation says)
    logical_id: str
    resource_type: str
    replacement: str  # CloudFormation's "True", "False", "Conditional"; "" when not given
    create_only: tuple[str, ...]  # createOnly properties that change (offline prediction)
    stateful: bool
    fate: str  # for a stateful resource replaced or removed: what happens to its data

    @property
    def replaces(self) -> bool:
        """The resource is replaced, by AWS's word or by the offline prediction."""
        return self.action == "Modify" and (self.replacement == "True" or bool(self.create_only))

    @property
    def flagged(self) -> bool:
        """A stateful resource that may be replaced or is removed."""
        maybe = self.replaces or self.replacement == "Conditional"
        return self.stateful and (self.action == "Remove" or (self.action == "Modify" and maybe))


@functools.cache
def _create_only(kind: str) -> tuple[tuple[str, ...], ...]:
    """The createOnly property paths of a resource type (``("QueueName",)``), from the
    registry schema cfn-lint ships; () for a type it has no schema for (custom resources)."""
    schema = resource_schema(kind)
    paths = (str(p).split("/")[2:] for p in schema.get("createOnlyProperties", []))
    return tuple(tuple(p[: p.index("*")] if "*" in p else p) for p in paths if p)


def _at(properties: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(properties, Mapping):
            return None
        properties = properties.get(key)
    return properties


def create_only_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """The createOnly properties (``QueueName``) that differ between the old and new
    resolved resource; ``("Type",)`` when the type itself changes."""
    if old.get("Type") != new.get("Type"):
        return ("Type",)
    before, after = old.get("Properties", {}), new.get("Properties", {})
    return tuple(
        "/".join(path)
        for path in _create_only(str(new.get("Type")))
        if _at(before, path) != _at(after, path)
    )


def _assumed_roles(outputs: Mapping[str, Any]) -> set[str]:
    """Roles whose ARN the stack outputs (``...RoleArn``): the ones Clazar assumes."""
    found = set()
    for key, output in outputs.items():
        value = output.get("Value") if isinstance(output, Mapping) else None
        target = value.get("Fn::GetAtt") if isinstance(value, Mapping) else None
        if key.endswith("RoleArn") and isinstance(target, list) and target:
            found.add(str(target[0]))
    return found


def _fate(resource: Mapping[str, Any], policy_key: str, what: str) -> str:
    """What happens to the old resource and its data, by its ``policy_key``
    (``DeletionPolicy``: it is removed; ``UpdateReplacePolicy``: it is replaced)."""
    holds, replaced, removed = HOLDS[str(resource.get("Type"))]
    deleted = removed if policy_key == "DeletionPolicy" else replaced
    policy = str(resource.get(policy_key, "Delete"))
    if policy == "Retain":
        return (
            f"{what} is retained ({policy_key}: Retain): it and {holds} stay in your account, "
            "orphaned outside the stack"
        )
    if policy == "Delete":
        return f"{what} is deleted ({policy_key}: Delete): {deleted}"
    return f"{what} is handled by {policy_key}: {policy}"


def resource_changes(
    listed: Iterable[Mapping[str, Any]],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> tuple[ResourceChange, ...]:
    """The change set's resource changes (DescribeChangeSet's ``Changes``), each with the
    offline prediction from ``old`` and ``new``: both templates resolved with the stack's
    parameters (``resolve``'s Resources and Outputs), the policies left on each resource."""
    old_res, new_res = old.get("Resources", {}), new.get("Resources", {})
    roles = _assumed_roles(old.get("Outputs", {})) | _assumed_roles(new.get("Outputs", {}))
    found = []
    for item in listed:
        change = item.get("ResourceChange", {})
        logical = str(change.get("LogicalResourceId", ""))
        action = str(change.get("Action", ""))
        kind = str(change.get("ResourceType", ""))
        before, after = old_res.get(logical), new_res.get(logical)
        predicted = (
            create_only_changes(before, after) if action == "Modify" and before and after else ()
        )
        stateful = kind in HOLDS and (kind != "AWS::IAM::Role" or logical in roles)
        result = ResourceChange(
            action, logical, kind, str(change.get("Replacement", "")), predicted, stateful, ""
        )
        if result.flagged and action == "Remove":
            fate = _fate(before or {"Type": kind}, "DeletionPolicy", "removed: the resource")
            result = replace(result, fate=fate)
        elif result.flagged:
            what = "replaced: a new one is created, then the old one"
            if not result.replaces:
                what = "may be replaced (CloudFormation: Conditional); if so, the old one"
            fate = _fate(after or before or {"Type": kind}, "UpdateReplacePolicy", what)
            result = replace(result, fate=fate)
        found.append(result)
    order = {"Remove": 0, "Modify": 1, "Add": 2}
    return tuple(sorted(found, key=lambda c: (not c.flagged, order.get(c.action, 3), c.logical_id)))
