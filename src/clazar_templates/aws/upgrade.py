"""Upgrade a deployed stack to another version of its template: a plan first, then apply.

:func:`plan_upgrade` reads the stack (its template, parameters, outputs, and which of our
templates and versions it runs, from ``Metadata.Clazar``), gets the target (a version
published under ``bucket``/``prefix``, this package's own version rebuilt with the stack's
build-time options, or a template file) and makes one :class:`UpgradePlan`: the versions,
the parameters that are new, removed or must be provided, the permission diff as deployed
with the stack's parameter values, and the resource changes of a real CloudFormation change
set, each Modify with whether it replaces the resource (see :mod:`.upgrade_changes`).
:func:`apply_upgrade` executes that change set and follows the stack's events until it
settles. The change set is deleted unless it is kept to be applied, and on every error path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from .._version import __version__
from ..options import OptionError
from ..patterns import REGION, STACK_NAME, fullmatch
from ..review.diff import DiffError, PermissionDiff, diff
from ..template.parameters import value_problem
from ..template.render import load_template
from ..template.resolve import ResolveError, resolve
from .checks.recognise import Identity, NotOurs, identify, reference
from .errors import aws_errors, error_code
from .publishing import DEFAULT_PREFIX, PublishError, check_location
from .upgrade_changes import ResourceChange, resource_changes

__all__ = [
    "ParameterNote",
    "UpgradeError",
    "UpgradeInputError",
    "UpgradePlan",
    "UpgradeResult",
    "apply_upgrade",
    "plan_upgrade",
    "upgrade",
]

Progress = Callable[[str], None]
UPGRADABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
MAX_BODY = 51_200  # bytes CloudFormation takes as TemplateBody
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 10,
    "read_timeout": 30,
    "retries": {"mode": "standard", "max_attempts": 3},
}


class UpgradeInputError(ValueError):
    """An argument the upgrade cannot run with (exit 2); ``field`` names it (``--to``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UpgradeError(RuntimeError):
    """The stack, the target or AWS stops the upgrade, or it was refused (exit 1): one line
    naming the thing and what to do."""


@dataclass(frozen=True)
class ParameterNote:
    name: str
    change: str  # "new", "removed", "changed", "provide"
    detail: str


@dataclass
class UpgradePlan:
    """What upgrading ``stack_name`` to ``to_version`` does; see :meth:`to_markdown`."""

    stack_name: str
    region: str
    template: str
    from_version: str
    to_version: str
    source: str  # where the target template comes from
    parameters: tuple[ParameterNote, ...]
    fresh: tuple[str, ...]  # one-time (NoEcho) parameters that need a new value to apply
    permissions: PermissionDiff
    changes: tuple[ResourceChange, ...]
    change_set: str | None  # the change set's ID (None: no changes)
    kept: bool  # the change set is still there, for apply_upgrade
    client: Any = field(default=None, repr=False, compare=False)

    @property
    def flagged(self) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.flagged)

    @property
    def refusals(self) -> list[str]:
        """Why apply_upgrade refuses without the matching ``accept_*``, one phrase each."""
        found = []
        if self.permissions.grew:
            found.append("permissions grow (see the permission changes): pass --accept-growth")
        replaced = [c.logical_id for c in self.flagged if c.action == "Modify"]
        if replaced:
            found.append(
                f"stateful {', '.join(replaced)} would be replaced: pass --accept-replacement"
            )
        return found

    def to_markdown(self) -> str:
        from .upgrade_report import markdown

        return markdown(self)


@dataclass(frozen=True)
class UpgradeResult:
    stack_name: str
    status: str  # the stack's status once it settled
    failure: str  # the first failed event's resource and reason ("" when it worked)

    @property
    def ok(self) -> bool:
        return self.status == "UPDATE_COMPLETE"

    @property
    def summary(self) -> str:
        if self.ok:
            return f"Upgraded {self.stack_name}: {self.status}"
        return f"Error: the upgrade failed: {self.failure or 'no reason given'}; {self.status}"


def plan_upgrade(
    stack_name: str,
    to: str,
    *,
    bucket: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    region: str | None = None,
    parameters: Mapping[str, str] | None = None,
    keep_change_set: bool = False,
    progress: Progress | None = None,
    session: Any = None,
    client: Any = None,
) -> UpgradePlan:
    """Plan upgrading the stack ``stack_name`` to ``to``: a version (published under
    ``bucket``/``prefix``, or this package's own) or a template file. ``parameters`` are
    new values (``{"ClazarSecretKey": ...}``); the others keep the stack's values.

    Makes a change set and deletes it again unless ``keep_change_set`` (for
    :func:`apply_upgrade`); it is deleted on every error. Raises UpgradeInputError for a bad
    argument, UpgradeError when the stack, the target or AWS stops it.
    """
    import boto3
    from botocore.config import Config

    say = progress or (lambda _line: None)
    given = dict(parameters or {})
    _check_arguments(stack_name, region, bucket, prefix)
    session = session or boto3.Session(region_name=region)
    where = region or (client.meta.region_name if client else session.region_name) or "us-east-1"
    cfn = client or session.client(
        "cloudformation", region_name=where, config=Config(**CLIENT_CONFIG)
    )
    stack = _stack(cfn, stack_name, where)
    deployed = _deployed_template(cfn, stack_name)
    try:
        identity = identify(deployed)
    except NotOurs as error:
        raise UpgradeError(
            f"stack {stack_name}: {error}; upgrade only works on our stacks"
        ) from None
    s3 = session.client("s3", config=Config(**CLIENT_CONFIG)) if bucket else None
    target, source = _target(to, identity, bucket, prefix, s3)
    new_identity = identify(target)
    old_values = {
        p["ParameterKey"]: str(p.get("ResolvedValue", p.get("ParameterValue", "")))
        for p in stack.get("Parameters", [])
    }
    notes, listed, new_values = _parameters(deployed, target, old_values, given, to)
    permissions = _permissions(deployed, target, old_values, new_values, where)
    say(f"creating a change set for {stack_name} ({identity} -> {new_identity.version})")
    change_set = _create_change_set(cfn, stack_name, target, listed, new_identity.version)
    try:
        raw = _wait_and_describe(cfn, change_set, say) if change_set else []
        old_resolved = _resolved(deployed, old_values, where, "the stack's template")
        new_resolved = _resolved(target, new_values, where, source)
        changes = resource_changes(raw, old_resolved, new_resolved)
        fresh = _fresh(target, changes, given)
        notes += [ParameterNote(n, "provide", _fresh_reason(n)) for n in fresh]
    except BaseException:
        _discard(cfn, change_set, say)
        raise
    if change_set and (not changes or not keep_change_set):
        _discard(cfn, change_set, say)
    return UpgradePlan(
        stack_name=stack_name,
        region=where,
        template=identity.target.name,
        from_version=identity.version,
        to_version=new_identity.version,
        source=source,
        parameters=tuple(notes),
        fresh=fresh,
        permissions=permissions,
        changes=changes,
        change_set=change_set if changes else None,
        kept=bool(changes) and keep_change_set,
        client=cfn,
    )


def apply_upgrade(
    plan: UpgradePlan,
    *,
    accept_growth: bool = False,
    accept_replacement: bool = False,
    progress: Progress = print,
    timeout: float = 3600.0,
    poll: float = 2.0,
) -> UpgradeResult:
    """Execute the plan's change set (planned with ``keep_change_set=True``) and report each
    stack event to ``progress`` until the stack settles.

    Refuses (UpgradeError, the change set deleted) when permissions grow unless
    ``accept_growth``, when a stateful resource would be replaced unless
    ``accept_replacement``, and when a one-time parameter needs a new value
    (UpgradeInputError). A failed update is an UpgradeResult whose ``failure`` is the first
    failed event's reason and ``status`` the rollback's result.
    """
    cfn, name = plan.client, plan.stack_name
    if not plan.changes:
        return UpgradeResult(name, "UPDATE_COMPLETE", "")  # nothing to change
    if not plan.kept or plan.change_set is None:
        raise UpgradeInputError("plan", "its change set was not kept: plan with keep_change_set")
    refusals = plan.refusals
    if accept_growth:
        refusals = [r for r in refusals if "--accept-growth" not in r]
    if accept_replacement:
        refusals = [r for r in refusals if "--accept-replacement" not in r]
    if plan.fresh or refusals:
        _discard(cfn, plan.change_set, progress)
        plan.kept = False
        if plan.fresh:
            names = ", ".join(plan.fresh)
            raise UpgradeInputError(
                "--param",
                f"{names}: {_fresh_reason(plan.fresh[0])}; pass --param {plan.fresh[0]}=NEW",
            )
        raise UpgradeError("not applied: " + "; ".join(refusals))
    seen = _event_ids(cfn, name)
    try:
        cfn.execute_change_set(ChangeSetName=plan.change_set)
    except aws_errors() as error:
        _discard(cfn, plan.change_set, progress)
        plan.kept = False
        _fail(error, f"execute the change set on stack {name}")
    plan.kept = False
    return _follow(cfn, name, seen, progress, timeout, poll)


def upgrade(
    stack_name: str,
    to: str,
    *,
    apply: bool = False,
    accept_growth: bool = False,
    accept_replacement: bool = False,
    report: Progress = print,
    progress: Progress = print,
    **plan_arguments: Any,
) -> tuple[UpgradePlan, UpgradeResult | None]:
    """Plan (see :func:`plan_upgrade`), hand the Markdown report to ``report``, and with
    ``apply`` apply it (see :func:`apply_upgrade`): the command line's one call."""
    plan = plan_upgrade(stack_name, to, keep_change_set=apply, progress=progress, **plan_arguments)
    try:
        report(plan.to_markdown())
    except BaseException:
        if plan.kept and plan.change_set:
            _discard(plan.client, plan.change_set, progress)
        raise
    if not apply:
        return plan, None
    result = apply_upgrade(
        plan, accept_growth=accept_growth, accept_replacement=accept_replacement, progress=progress
    )
    return plan, result


# --- reading the stack and the target ---------------------------------------------------


def _check_arguments(stack: str, region: str | None, bucket: str | None, prefix: str) -> None:
    if not fullmatch(STACK_NAME, stack):
        raise UpgradeInputError(
            "--stack",
            f"{stack!r} is not a stack name (a letter, then up to 127 letters, digits and hyphens)",
        )
    if region is not None and not fullmatch(REGION, region):
        raise UpgradeInputError("--region", f"{region!r} is not an AWS region name, e.g. us-east-1")
    if bucket is not None:
        try:
            check_location(bucket, prefix, None)
        except PublishError as error:
            message = str(error).removeprefix(f"{error.field}: ")
            raise UpgradeInputError(f"--{error.field}", message) from None


def _fail(error: Exception, doing: str) -> NoReturn:
    """An UpgradeError for an AWS error while ``doing`` something; access denied says which
    permission to get."""
    code = error_code(error)
    if code in DENIED:
        operation = getattr(error, "operation_name", "") or "the call"
        raise UpgradeError(
            f"access denied: cannot {doing} (cloudformation:{operation}); run with credentials "
            f"allowed to call it ({code})"
        ) from None
    raise UpgradeError(f"cannot {doing}: {error}") from None


def _stack(cfn: Any, name: str, region: str) -> dict[str, Any]:
    try:
        (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    except aws_errors() as error:
        if "does not exist" in str(error):
            raise UpgradeError(
                f"stack {name}: no such stack in {region}; check --stack and --region"
            ) from None
        _fail(error, f"read stack {name}")
    status = str(stack["StackStatus"])
    if status in UPGRADABLE:
        return dict(stack)
    if status.endswith("_IN_PROGRESS"):
        why = "another operation is running on it; wait until it ends, then run upgrade again"
    elif status == "UPDATE_ROLLBACK_FAILED":
        why = (
            "continue its rollback first (aws cloudformation continue-update-rollback "
            f"--stack-name {name}), then run upgrade again"
        )
    elif status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"):
        why = "it was never created; delete it and create it from the new template"
    else:
        why = "an upgrade needs " + ", ".join(sorted(UPGRADABLE))
    raise UpgradeError(f"stack {name} is {status}: {why}")


def _deployed_template(cfn: Any, name: str) -> dict[str, Any]:
    try:
        body = cfn.get_template(StackName=name)["TemplateBody"]
    except aws_errors() as error:
        _fail(error, f"read the template of stack {name}")
    try:  # boto3 hands a JSON template over decoded, YAML as text
        return json.loads(json.dumps(body)) if isinstance(body, dict) else load_template(body)
    except ValueError as error:
        raise UpgradeError(
            f"stack {name}: not a Clazar stack, its template cannot be read ({error})"
        ) from None


def _target(
    to: str, identity: Identity, bucket: str | None, prefix: str, s3: Any
) -> tuple[dict[str, Any], str]:
    """The target template as data, and where it comes from."""
    path = Path(to)
    if path.suffix in (".yaml", ".yml", ".json") or path.is_file():
        try:
            data = load_template(path.read_text(encoding="utf-8"))
            found = identify(data)
        except OSError as error:
            raise UpgradeInputError("--to", f"cannot read {to}: {error.strerror}") from None
        except (ValueError, NotOurs) as error:
            raise UpgradeInputError("--to", f"{to} is not one of our templates: {error}") from None
        if found.target != identity.target:
            raise UpgradeInputError(
                "--to", f"{to} is {found.target.name}; the stack runs {identity.target.name}"
            )
        return data, f"{found} from {to}"
    try:
        identity.target.options(version=to)
    except OptionError:
        raise UpgradeInputError(
            "--to", f"{to!r} is neither a template file nor a version (e.g. {__version__})"
        ) from None
    if to != __version__ and identity.fixed:
        raise UpgradeInputError(
            "--to",
            f"the stack runs a variant ({identity}); only all-deploy-time templates are "
            f"published: build that variant with clazar-templates {to} and pass the file",
        )
    if to != __version__ and bucket is None:
        raise UpgradeInputError(
            "--bucket",
            f"{to} is not this package's version ({__version__}); pass --bucket (and "
            "--prefix) where it is published, or a template file as --to",
        )
    try:
        return reference(
            Identity(identity.target, to, identity.fixed), bucket=bucket, prefix=prefix, s3=s3
        )
    except NotOurs as error:
        raise UpgradeError(f"--to {to}: {error}") from None


# --- parameters, permissions --------------------------------------------------------------


def _parameters(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    values: Mapping[str, str],
    given: Mapping[str, str],
    to: str,
) -> tuple[list[ParameterNote], list[dict[str, Any]], dict[str, str]]:
    """Notes for the report, the change set's Parameters, and the values the new template
    deploys with. UpgradeInputError for a value the seller must give or fix."""
    declared = new.get("Parameters", {})
    for name, value in given.items():
        if name not in declared:
            raise UpgradeInputError(
                "--param", f"{name}: {to} has no such parameter; it has {', '.join(declared)}"
            )
        problem = value_problem(declared[name], value)
        if problem:
            raise UpgradeInputError("--param", f"{name}: {problem}")
    notes, listed, deploys = [], [], {}
    for name, spec in declared.items():
        if name in given:
            listed.append({"ParameterKey": name, "ParameterValue": given[name]})
            deploys[name] = given[name]
            if spec.get("NoEcho"):
                notes.append(ParameterNote(name, "changed", "a new value (NoEcho: not shown)"))
            elif name in values and values[name] != given[name]:
                notes.append(ParameterNote(name, "changed", f"{values[name]!r} -> {given[name]!r}"))
        elif name in values:
            listed.append({"ParameterKey": name, "UsePreviousValue": True})
            deploys[name] = values[name]
            problem = None if spec.get("NoEcho") else value_problem(spec, values[name])
            if problem:
                raise UpgradeInputError(
                    "--param",
                    f"{name}: the stack's value {values[name]!r} is refused by {to} ({problem}); "
                    f"pass --param {name}=VALUE",
                )
        elif "Default" in spec:
            deploys[name] = str(spec["Default"])
            notes.append(ParameterNote(name, "new", f"takes its default {spec['Default']!r}"))
        else:
            raise UpgradeInputError(
                "--param",
                f"{name}: {to} adds this required parameter ({spec.get('Description', '')}); "
                f"pass --param {name}=VALUE",
            )
        if name in given and name not in values:
            notes.append(ParameterNote(name, "new", f"set to {given[name]!r}"))
    for name in old.get("Parameters", {}):
        if name not in declared:
            shown = values.get(name, "")
            notes.append(ParameterNote(name, "removed", f"its value {shown!r} is no longer used"))
    return notes, listed, deploys


def _permissions(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_values: Mapping[str, str],
    new_values: Mapping[str, str],
    region: str,
) -> PermissionDiff:
    """The permission diff as deployed with the stack's values (NoEcho ones left out: AWS
    shows them masked, and they grant nothing)."""

    def shown(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, str]:
        declared = template.get("Parameters", {})
        return {k: v for k, v in values.items() if k in declared and not declared[k].get("NoEcho")}

    try:
        return diff(
            json.dumps(old),
            json.dumps(new),
            parameters=shown(old, old_values),
            new_parameters=shown(new, new_values),
            region=region,
        )
    except DiffError as error:
        raise UpgradeError(f"cannot compare permissions: {error}") from None


def _resolved(
    template: Mapping[str, Any], values: Mapping[str, str], region: str, label: str
) -> dict[str, Any]:
    declared = template.get("Parameters", {})
    try:
        return resolve(template, {k: v for k, v in values.items() if k in declared}, region=region)
    except ResolveError as error:
        raise UpgradeError(f"cannot resolve {label}: {error}") from None


def _refers(node: Any, name: str) -> bool:
    """``node`` uses parameter ``name`` (a Ref, or ``${name}`` in a Sub)."""
    if isinstance(node, list):
        return any(_refers(item, name) for item in node)
    if not isinstance(node, dict):
        return False
    if node.get("Ref") == name:
        return True
    sub = node.get("Fn::Sub")
    text = sub[0] if isinstance(sub, list) and sub else sub
    if isinstance(text, str) and "${" + name + "}" in text:
        return True
    return any(_refers(value, name) for value in node.values())


def _fresh(
    new: Mapping[str, Any], changes: tuple[ResourceChange, ...], given: Mapping[str, str]
) -> tuple[str, ...]:
    """NoEcho parameters a custom resource that runs again (added or modified) reads, and
    that were not given: one-time secrets that must be new."""
    running = {c.logical_id for c in changes if c.action in ("Add", "Modify")}
    resources = new.get("Resources", {})
    custom = [
        resources[logical].get("Properties")
        for logical in sorted(running)
        if str(resources.get(logical, {}).get("Type", "")).startswith("Custom::")
    ]
    return tuple(
        name
        for name, spec in new.get("Parameters", {}).items()
        if spec.get("NoEcho") and name not in given and any(_refers(p, name) for p in custom)
    )


def _fresh_reason(name: str) -> str:
    return (
        f"the reporter runs again in this upgrade and {name} is a one-time secret (NoEcho): "
        "get a new one from the Clazar platform"
    )


# --- the change set -----------------------------------------------------------------------


def _create_change_set(
    cfn: Any, stack_name: str, target: Mapping[str, Any], listed: list[dict[str, Any]], to: str
) -> str | None:
    """The new change set's ID; None when CloudFormation says nothing would change."""
    body = json.dumps(target, separators=(",", ":"))
    if len(body.encode()) > MAX_BODY:
        raise UpgradeError(
            f"the target template is {len(body.encode())} bytes, over the {MAX_BODY} "
            "CloudFormation takes as a body; publish it and pass --to VERSION --bucket"
        )
    name = f"clazar-upgrade-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    try:
        answer = cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType="UPDATE",
            TemplateBody=body,
            Parameters=listed,
            Capabilities=CAPABILITIES,
            Description=f"clazar-templates upgrade to {to}",
        )
    except aws_errors() as error:
        if any(phrase in str(error) for phrase in NO_CHANGES):
            return None  # (moto says so here; AWS makes a change set that fails)
        _fail(error, f"create a change set on stack {stack_name}")
    return str(answer["Id"])


def _wait_and_describe(
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
        _fail(error, "read the change set")
    say(f"change set made: {len(changes)} resource change(s)")
    return changes


def _discard(cfn: Any, change_set: str | None, say: Progress) -> None:
    """Delete the change set; say so if it cannot be (it is then left behind)."""
    if change_set is None:
        return
    try:
        cfn.delete_change_set(ChangeSetName=change_set)
    except aws_errors() as error:
        say(f"could not delete change set {change_set} ({error}); delete it yourself")
    else:
        say(f"deleted change set {change_set.split(':changeSet/')[-1].split('/')[0]}")


# --- following the update -----------------------------------------------------------------


def _event_ids(cfn: Any, name: str) -> set[str]:
    """The IDs of the stack's events so far (the first page: the newest)."""
    try:
        return {e["EventId"] for e in cfn.describe_stack_events(StackName=name)["StackEvents"]}
    except aws_errors() as error:
        _fail(error, f"read the events of stack {name}")


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


def _follow(
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
        _fail(error, f"follow the update of stack {name}")
