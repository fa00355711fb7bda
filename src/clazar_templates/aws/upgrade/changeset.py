"""The CloudFormation side of an upgrade: make the change set, read it, delete it, execute it
and follow the stack's events until it settles."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...template import render
from ..errors import aws_errors, error_code
from .stack import UpgradeError, fail

__all__ = [
    "NOTHING",
    "UpgradeResult",
    "change_set_name",
    "create_change_set",
    "discard",
    "follow",
    "wait_and_describe",
]

Progress = Callable[[str], None]
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
NOTHING = "NO_CHANGES"  # the status of an upgrade that had nothing to change
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
NOT_FOUND = ("ChangeSetNotFound", "ValidationError")  # AWS's code for a missing one, moto's


@dataclass(frozen=True)
class UpgradeResult:
    stack_name: str
    status: str  # the stack's status once it settled
    failure: str  # the first failed event's resource and reason ("" when it worked)

    @property
    def ok(self) -> bool:
        return self.status in ("UPDATE_COMPLETE", NOTHING)

    @property
    def summary(self) -> str:
        if self.status == NOTHING:
            return f"{self.stack_name}: nothing to change"
        if self.ok:
            return f"Upgraded {self.stack_name}: {self.status}"
        return f"Error: the upgrade failed: {self.failure or 'no reason given'}; {self.status}"


def change_set_name() -> str:
    """A new change set's name: the time, and a random part so that a change set of that
    name found in the stack is this upgrade's (a call retried after its answer was lost)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"clazar-upgrade-{stamp}-{secrets.token_hex(3)}"


def create_change_set(
    cfn: Any,
    stack_name: str,
    target: Mapping[str, Any],
    listed: list[dict[str, Any]],
    to: str,
    url: Callable[[], str] | None = None,
    name: str | None = None,
) -> str | None:
    """The new change set's ID; None when CloudFormation says nothing would change. The
    template goes as a body, or by ``url()`` when it is too big for one. ``name`` (see
    :func:`change_set_name`) is the caller's, so that it can delete the change set by name
    when the call is interrupted before its answer arrives; a change set of that name that
    already exists (a retried call whose first attempt made it) is this one."""
    body = json.dumps(target, separators=(",", ":"))
    size = render.body_too_big(body)
    if size is not None and url is None:
        raise UpgradeError(
            f"the target template is {size:,} bytes, over the "
            f"{render.TEMPLATE_BODY_LIMIT:,} CloudFormation takes as a body; publish it and "
            "pass --to VERSION --bucket"
        )
    name = name or change_set_name()
    try:
        template = {"TemplateBody": body} if size is None else {}
        answer = cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType="UPDATE",
            **(template or {"TemplateURL": url() if url else ""}),
            Parameters=listed,
            Capabilities=CAPABILITIES,
            Description=f"clazar-templates upgrade to {to}",
        )
    except aws_errors() as error:
        if any(phrase in str(error) for phrase in NO_CHANGES):
            return None  # (moto says so here; AWS makes a change set that fails)
        if error_code(error) in ("AlreadyExistsException", "AlreadyExists"):
            return _existing(cfn, stack_name, name)
        fail(error, f"create a change set on stack {stack_name}")
    return str(answer["Id"])


def _existing(cfn: Any, stack_name: str, name: str) -> str:
    try:
        answer = cfn.describe_change_set(ChangeSetName=name, StackName=stack_name)
    except aws_errors() as error:
        fail(error, f"read change set {name} of stack {stack_name}")
    return str(answer.get("ChangeSetId") or name)


def wait_and_describe(
    cfn: Any, change_set: str, say: Progress, timeout: float = 600.0
) -> list[dict[str, Any]]:
    """The change set's Changes once it is made ([] when there are none)."""
    deadline, pause = time.monotonic() + timeout, 0.2
    try:
        while True:
            answer = cfn.describe_change_set(ChangeSetName=change_set)
            status, reason = answer.get("Status", ""), str(answer.get("StatusReason", ""))
            if status == "FAILED":
                if any(phrase in reason for phrase in NO_CHANGES):
                    return []
                raise UpgradeError(f"CloudFormation could not make the change set: {reason}")
            if status == "CREATE_COMPLETE":
                break
            if time.monotonic() > deadline:
                raise UpgradeError(f"the change set is still {status} after {timeout:.0f} s")
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
        changes = list(answer.get("Changes", []))
        while answer.get("NextToken"):
            answer = cfn.describe_change_set(
                ChangeSetName=change_set, NextToken=answer["NextToken"]
            )
            changes += answer.get("Changes", [])
    except aws_errors() as error:
        fail(error, "read the change set")
    say(f"change set made: {len(changes)} resource change(s)")
    return changes


def discard(cfn: Any, change_set: str | None, say: Progress, stack_name: str = "") -> None:
    """Delete the change set (its ID, or its name in ``stack_name``); say so if it cannot be
    (it is then left behind). One that does not exist (its creation never reached AWS) is
    nothing left behind."""
    if change_set is None:
        return
    if stack_name and ":changeSet/" not in change_set:  # a name: is it there?
        try:
            found = cfn.describe_change_set(ChangeSetName=change_set, StackName=stack_name)
        except aws_errors() as error:
            if error_code(error) not in NOT_FOUND:
                say(f"could not look for change set {change_set} ({error}); delete it yourself")
            return
        change_set = str(found.get("ChangeSetId") or change_set)
    try:
        cfn.delete_change_set(ChangeSetName=change_set)
    except aws_errors() as error:
        if error_code(error) in NOT_FOUND[:1]:
            return
        say(f"could not delete change set {change_set} ({error}); delete it yourself")
    else:
        say(f"deleted change set {change_set.split(':changeSet/')[-1].split('/')[0]}")


# --- following the update -----------------------------------------------------------------


def event_ids(cfn: Any, name: str) -> set[str]:
    """The IDs of the stack's events so far (the first page: the newest)."""
    try:
        return {e["EventId"] for e in cfn.describe_stack_events(StackName=name)["StackEvents"]}
    except aws_errors() as error:
        fail(error, f"read the events of stack {name}")


def _new_events(cfn: Any, name: str, seen: set[str]) -> list[dict[str, Any]]:
    """Events not seen yet, oldest first."""
    found: list[dict[str, Any]] = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=name):
        fresh = [e for e in page["StackEvents"] if e["EventId"] not in seen]
        found += fresh
        if len(fresh) < len(page["StackEvents"]):
            break
    seen.update(e["EventId"] for e in found)
    return sorted(found, key=lambda e: e["Timestamp"])


def _line(event: Mapping[str, Any]) -> str:
    when = event.get("Timestamp")
    stamp = when.strftime("%H:%M:%S") if isinstance(when, datetime) else str(when or "")
    reason = event.get("ResourceStatusReason")
    return (
        f"{stamp} {event.get('LogicalResourceId')} {event.get('ResourceType')} "
        f"{event.get('ResourceStatus')}" + (f": {reason}" if reason else "")
    )


def follow(
    cfn: Any, name: str, seen: set[str], say: Progress, timeout: float, poll: float
) -> UpgradeResult:
    deadline = time.monotonic() + timeout
    failure = ""
    try:
        while True:
            (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
            for event in _new_events(cfn, name, seen):
                say(_line(event))
                if not failure and str(event.get("ResourceStatus", "")).endswith("_FAILED"):
                    failure = (
                        f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}): "
                        f"{event.get('ResourceStatusReason') or event.get('ResourceStatus')}"
                    )
            status = str(stack["StackStatus"])
            if not status.endswith("_IN_PROGRESS"):
                return UpgradeResult(name, status, failure)
            if time.monotonic() > deadline:
                raise UpgradeError(
                    f"stack {name} is still {status} after {timeout:.0f} s; follow it in the "
                    "CloudFormation console"
                )
            time.sleep(poll)
    except aws_errors() as error:
        fail(error, f"follow the update of stack {name}")
