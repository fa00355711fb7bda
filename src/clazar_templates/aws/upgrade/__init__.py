"""Upgrade a deployed stack to another version of its template: a plan first, then apply.

:func:`plan_upgrade` reads the stack (its template, parameters, outputs, and which of our
templates and versions it runs, from ``Metadata.Clazar``), gets the target (a version
published under ``bucket``/``prefix``, this package's own version rebuilt with the stack's
build-time options, or a template file) and makes one :class:`UpgradePlan`: the versions,
the parameters that are new, removed or must be provided, the permission diff as deployed
with the stack's parameter values, and the resource changes of a real CloudFormation change
set, each Modify with whether it replaces the resource (see :mod:`.changes`). A template
file is not believed for what its ``Metadata.Clazar`` claims: one claiming this package's
version is compared with the rebuild and called "modified" when it differs.
:func:`apply_upgrade` executes that change set and follows the stack's events until it
settles; it refuses growth, a replaced or removed stateful resource and a one-time secret
not renewed, unless told to accept each. The change set is deleted unless it is kept to be
applied, and on every error path, an interrupted ``CreateChangeSet`` included.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...review.diff import PermissionDiff
from ..checks.recognise import NotOurs, identify
from ..errors import aws_errors, no_region
from ..publishing import DEFAULT_PREFIX
from .changes import ResourceChange, resource_changes
from .changeset import (
    NOTHING,
    UpgradeResult,
    change_set_name,
    create_change_set,
    discard,
    event_ids,
    follow,
    wait_and_describe,
)
from .defaults import default_changes, refuse_by_rules
from .stack import (
    ParameterNote,
    UpgradeError,
    UpgradeInputError,
    check_arguments,
    deployed_template,
    fail,
    fresh_reason,
    fresh_secrets,
    parameter_plan,
    permission_diff,
    read_stack,
    resolved,
    secret_env_var,
    target_template,
)

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


def _silent(_line: str) -> None:
    """The default progress: the library prints nothing unless asked."""


CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 10,
    "read_timeout": 30,
    "retries": {"mode": "standard", "max_attempts": 3},
}


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
        removed = [c.logical_id for c in self.flagged if c.action == "Remove"]
        if removed:
            found.append(f"stateful {', '.join(removed)} would be removed: pass --accept-removal")
        return found

    def to_markdown(self) -> str:
        from .report import markdown

        return markdown(self)


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
    check_arguments(stack_name, region, bucket, prefix)
    session = session or boto3.Session(region_name=region)
    where = region or (client.meta.region_name if client else session.region_name)
    if not where:
        raise UpgradeInputError("--region", no_region())
    cfn = client or session.client(
        "cloudformation", region_name=where, config=Config(**CLIENT_CONFIG)
    )
    stack = read_stack(cfn, stack_name, where)
    deployed = deployed_template(cfn, stack_name)
    try:
        identity = identify(deployed)
    except NotOurs as error:
        raise UpgradeError(
            f"stack {stack_name}: {error}; upgrade only works on our stacks"
        ) from None
    s3 = session.client("s3", config=Config(**CLIENT_CONFIG)) if bucket else None
    target, source, url, modified = target_template(to, identity, bucket, prefix, s3)
    new_identity = identify(target)
    to_version = new_identity.version + (" (modified)" if modified else "")
    old_values = {
        p["ParameterKey"]: str(p.get("ResolvedValue", p.get("ParameterValue", "")))
        for p in stack.get("Parameters", [])
    }
    notes, listed, new_values = parameter_plan(deployed, target, old_values, given, to)
    refuse_by_rules(stack_name, target, new_values, where)
    notes += default_changes(deployed, target, old_values, given)
    permissions = permission_diff(deployed, target, old_values, new_values, where)
    say(f"creating a change set for {stack_name} ({identity} -> {to_version})")
    name = change_set_name()
    change_set: str | None = None
    try:  # an interrupted create leaves a change set of that name: deleted by name
        change_set = create_change_set(cfn, stack_name, target, listed, to_version, url, name)
        raw = wait_and_describe(cfn, change_set, say) if change_set else []
        old_resolved = resolved(deployed, old_values, where, "the stack's template")
        new_resolved = resolved(target, new_values, where, source)
        changes = resource_changes(raw, old_resolved, new_resolved)
        fresh = fresh_secrets(target, changes, given, deployed)
        notes += [ParameterNote(n, "provide", fresh_reason(n)) for n in fresh]
    except BaseException:
        discard(cfn, change_set or name, say, stack_name)
        raise
    if change_set and (not changes or not keep_change_set):
        discard(cfn, change_set, say)
    return UpgradePlan(
        stack_name=stack_name,
        region=where,
        template=identity.target.name,
        from_version=identity.version,
        to_version=to_version,
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
    accept_removal: bool = False,
    progress: Progress | None = None,
    timeout: float = 3600.0,
    poll: float = 2.0,
) -> UpgradeResult:
    """Execute the plan's change set (planned with ``keep_change_set=True``) and report each
    stack event to ``progress`` until the stack settles.

    Refuses (UpgradeError, the change set deleted) when permissions grow unless
    ``accept_growth``, when a stateful resource would be replaced unless
    ``accept_replacement`` or removed unless ``accept_removal``, and when a one-time
    parameter needs a new value (UpgradeInputError). A failed update is an UpgradeResult
    whose ``failure`` is the first failed event's reason and ``status`` the rollback's
    result. Silent unless given a ``progress`` callback (``print`` shows the events).
    """
    progress = progress or _silent
    cfn, name = plan.client, plan.stack_name
    if not plan.changes:
        return UpgradeResult(name, NOTHING, "")
    if not plan.kept or plan.change_set is None:
        raise UpgradeInputError("plan", "its change set was not kept: plan with keep_change_set")
    refusals = _unaccepted(plan, accept_growth, accept_replacement, accept_removal)
    if plan.fresh or refusals:
        discard(cfn, plan.change_set, progress)
        plan.kept = False
        if plan.fresh and not refusals:
            names, first = ", ".join(plan.fresh), plan.fresh[0]
            raise UpgradeInputError(
                secret_env_var(first),
                f"{names}: {fresh_reason(first)}; set {secret_env_var(first)} or answer the "
                "hidden prompt of --apply",
            )
        raise UpgradeError("not applied: " + "; ".join(refusals))
    try:
        seen = event_ids(cfn, name)
        try:
            cfn.execute_change_set(ChangeSetName=plan.change_set)
        except aws_errors() as error:
            fail(error, f"execute the change set on stack {name}")
    except BaseException:
        discard(cfn, plan.change_set, progress)
        raise
    finally:
        plan.kept = False
    return follow(cfn, name, seen, progress, timeout, poll)


def upgrade(
    stack_name: str,
    to: str,
    *,
    apply: bool = False,
    accept_growth: bool = False,
    accept_replacement: bool = False,
    accept_removal: bool = False,
    ask: Callable[[str], str] | None = None,
    environ: Mapping[str, str] | None = None,
    report: Progress | None = None,
    progress: Progress | None = None,
    **plan_arguments: Any,
) -> tuple[UpgradePlan, UpgradeResult | None]:
    """Plan (see :func:`plan_upgrade`), hand the Markdown report to ``report``, and with
    ``apply`` apply it (see :func:`apply_upgrade`): the command line's one call. Silent
    unless given ``report`` and ``progress`` callbacks.

    With ``apply``, a one-time secret the upgrade needs (ClazarSecretKey) is read from the
    environment (``CLAZAR_SECRET_KEY``, see :func:`secret_env_var`) or else from ``ask`` (a
    hidden prompt), and the change set is made again with it: never from the command line,
    where it would land in shell history.
    """
    progress = progress or _silent
    plan = plan_upgrade(stack_name, to, keep_change_set=apply, progress=progress, **plan_arguments)
    refused = _unaccepted(plan, accept_growth, accept_replacement, accept_removal)
    if apply and plan.fresh and not refused:  # (refused: apply_upgrade says why, asks nothing)
        env = os.environ if environ is None else environ
        found = {n: env.get(secret_env_var(n)) for n in plan.fresh}
        missing = [n for n, v in found.items() if v is None]
        if not missing or ask is not None:
            if plan.kept and plan.change_set:
                discard(plan.client, plan.change_set, progress)
                plan.kept = False
            values = {n: v if v is not None else _asked(ask, n) for n, v in found.items()}
            given = {**dict(plan_arguments.pop("parameters", None) or {}), **values}
            plan_arguments["client"] = plan.client
            plan = plan_upgrade(
                stack_name,
                to,
                keep_change_set=True,
                progress=progress,
                parameters=given,
                **plan_arguments,
            )
    try:
        if report is not None:
            report(plan.to_markdown())
    except BaseException:
        if plan.kept and plan.change_set:
            discard(plan.client, plan.change_set, progress)
        raise
    if not apply:
        return plan, None
    result = apply_upgrade(
        plan,
        accept_growth=accept_growth,
        accept_replacement=accept_replacement,
        accept_removal=accept_removal,
        progress=progress,
    )
    return plan, result


def _unaccepted(plan: UpgradePlan, growth: bool, replacement: bool, removal: bool) -> list[str]:
    """The plan's refusals that were not accepted."""
    accepted = [
        f
        for f, yes in (
            ("--accept-growth", growth),
            ("--accept-replacement", replacement),
            ("--accept-removal", removal),
        )
        if yes
    ]
    return [r for r in plan.refusals if not any(flag in r for flag in accepted)]


def _asked(ask: Callable[[str], str] | None, name: str) -> str:
    if ask is None:  # (not reached: upgrade asks only when it can)
        raise UpgradeInputError(secret_env_var(name), f"{name}: set {secret_env_var(name)}")
    return ask(name)
