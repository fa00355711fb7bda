"""The stack side of an upgrade: the deployed stack and its template, the target template,
the parameters the change set takes, and the permission diff between the two.

Each failure is one line naming the thing and what to do: UpgradeInputError for an argument
(exit 2), UpgradeError for the stack, the target or AWS (exit 1).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from ..._version import __version__
from ...errors import ClazarError, FieldError
from ...options import OptionError
from ...patterns import STACK_NAME, STACK_NAME_FORM, fullmatch, region_problem
from ...review.diff import DiffError, PermissionDiff, diff
from ...template.parameters import value_problem
from ...template.reading import load_template
from ...template.resolve import ResolveError, resolve
from ..checks.recognise import Identity, NotOurs, differences, identify, reference, summarised
from ..errors import aws_errors, error_code
from ..publishing import PublishError, bucket_region, check_location, object_url, template_key
from ..stacksets import secret_env_var
from .changes import ResourceChange

__all__ = ["ParameterNote", "UpgradeError", "UpgradeInputError", "secret_env_var"]

UPGRADABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


class UpgradeInputError(FieldError):
    """An argument the upgrade cannot run with (exit 2); ``field`` names it (``--to``)."""

    field: str


class UpgradeError(ClazarError, RuntimeError):
    """The stack, the target or AWS stops the upgrade, or it was refused (exit 1): one line
    naming the thing and what to do."""


@dataclass(frozen=True)
class ParameterNote:
    name: str
    change: str  # "new", "removed", "changed", "provide"
    detail: str


def check_arguments(stack: str, region: str | None, bucket: str | None, prefix: str) -> None:
    if not fullmatch(STACK_NAME, stack):
        raise UpgradeInputError(
            "--stack",
            f"{stack!r} is not a stack name ({STACK_NAME_FORM})",
        )
    if region is not None and region_problem(region):
        raise UpgradeInputError("--region", str(region_problem(region)))
    if bucket is not None:
        try:
            check_location(bucket, prefix, None)
        except PublishError as error:
            raise UpgradeInputError(f"--{error.field}", error.message) from None


def fail(error: Exception, doing: str) -> NoReturn:
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


def read_stack(cfn: Any, name: str, region: str) -> dict[str, Any]:
    try:
        (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    except aws_errors() as error:
        if "does not exist" in str(error):
            raise UpgradeError(
                f"stack {name}: no such stack in {region}; check --stack and --region"
            ) from None
        fail(error, f"read stack {name}")
    status = str(stack["StackStatus"])
    if status in UPGRADABLE:
        return dict(stack)
    if status == "REVIEW_IN_PROGRESS":
        why = (
            "it was made by a change set that was never executed, so it has no resources and "
            "waiting will not change that; execute that change set (aws cloudformation "
            f"list-change-sets --stack-name {name}) or delete the stack (aws cloudformation "
            f"delete-stack --stack-name {name}) and create it from the template"
        )
    elif status.endswith("_IN_PROGRESS"):
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


def deployed_template(cfn: Any, name: str) -> dict[str, Any]:
    try:
        body = cfn.get_template(StackName=name)["TemplateBody"]
    except aws_errors() as error:
        fail(error, f"read the template of stack {name}")
    try:  # boto3 hands a JSON template over decoded, YAML as text
        return json.loads(json.dumps(body)) if isinstance(body, dict) else load_template(body)
    except ValueError as error:
        raise UpgradeError(
            f"stack {name}: not a Clazar stack, its template cannot be read ({error})"
        ) from None


def target_template(
    to: str, identity: Identity, bucket: str | None, prefix: str, s3: Any
) -> tuple[dict[str, Any], str, Callable[[], str] | None, bool]:
    """The target template as data, where it comes from, for a published version how to get
    its URL (for a template too big to send as a body), and whether it is *modified*: a file
    claiming (``Metadata.Clazar``) a version this package builds, that differs from the
    rebuild (as ``check`` compares). A file claiming another version is not verified, and
    says so."""
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
        if found.version != __version__:
            unverified = f"not verified: this package builds {__version__}"
            return data, f"{found} from {to} ({unverified})", None, False
        rebuilt, _ = reference(found)
        changed = differences(data, rebuilt)
        if changed:
            why = f"differs from what this package builds: {summarised(changed)}"
            return data, f"{to}, modified: it says {found} but {why}", None, True
        return data, f"{found} from {to}, as this package builds it", None, False
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
        data, source = reference(
            Identity(identity.target, to, identity.fixed), bucket=bucket, prefix=prefix, s3=s3
        )
    except NotOurs as error:
        raise UpgradeError(f"--to {to}: {error}") from None
    if bucket is None or (to == __version__ and identity.fixed):
        return data, source, None, False  # this package's own version goes by URL only as published
    published = bucket  # (for mypy, inside the closure)

    def url() -> str:
        key = template_key(prefix, to, identity.target.name)
        return object_url(published, bucket_region(s3, published), key)

    return data, source, url, False


# --- parameters, permissions --------------------------------------------------------------


def parameter_plan(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    values: Mapping[str, str],
    given: Mapping[str, str],
    to: str,
) -> tuple[list[ParameterNote], list[dict[str, Any]], dict[str, str]]:
    """Notes for the report, the change set's Parameters, and the values the new template
    deploys with. UpgradeInputError for a value the seller must give or fix. A parameter is
    secret (never shown) when either template declares it NoEcho."""
    declared = new.get("Parameters", {})
    secret, still = _secret_names(old, new), _secret_names(new)
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
        hidden = name in secret
        if hidden and name not in still:
            notes.append(
                ParameterNote(
                    name,
                    "no longer NoEcho",
                    f"{to} drops NoEcho: once applied, its value shows in the stack's parameters",
                )
            )
        if name in given:
            listed.append({"ParameterKey": name, "ParameterValue": given[name]})
            deploys[name] = given[name]
            shown = "a new value (NoEcho: not shown)" if hidden else repr(given[name])
            if name not in values:
                notes.append(ParameterNote(name, "new", f"set to {shown}"))
            elif hidden or values[name] != given[name]:
                was = "" if hidden else f"{values[name]!r} -> "
                notes.append(ParameterNote(name, "changed", was + shown))
        elif name in values:
            listed.append({"ParameterKey": name, "UsePreviousValue": True})
            deploys[name] = values[name]
            problem = None if hidden else value_problem(spec, values[name])
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
    for name in old.get("Parameters", {}):
        if name not in declared:
            shown = "(NoEcho)" if name in secret else repr(values.get(name, ""))
            notes.append(ParameterNote(name, "removed", f"its value {shown} is no longer used"))
    return notes, listed, deploys


def permission_diff(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_values: Mapping[str, str],
    new_values: Mapping[str, str],
    region: str,
) -> PermissionDiff:
    """The permission diff as deployed with the stack's values (NoEcho ones, in either
    template, left out: AWS shows them masked, they grant nothing, and the diff prints the
    values it compared with)."""
    secret = _secret_names(old, new)

    def shown(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, str]:
        declared = template.get("Parameters", {})
        return {k: v for k, v in values.items() if k in declared and k not in secret}

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


def resolved(
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


def _secret_names(*templates: Mapping[str, Any]) -> set[str]:
    """The parameters any of ``templates`` declares NoEcho."""
    return {
        name
        for template in templates
        for name, spec in template.get("Parameters", {}).items()
        if isinstance(spec, Mapping) and str(spec.get("NoEcho", "")).lower() == "true"
    }


def fresh_secrets(
    new: Mapping[str, Any],
    changes: tuple[ResourceChange, ...],
    given: Mapping[str, str],
    old: Mapping[str, Any] | None = None,
) -> tuple[str, ...]:
    """NoEcho parameters (in ``new`` or ``old``) a custom resource that runs again (added or
    modified) reads, and that were not given: one-time secrets that must be new."""
    secret = _secret_names(new, old or {})
    running = {c.logical_id for c in changes if c.action in ("Add", "Modify")}
    resources = new.get("Resources", {})
    custom = [
        resources[logical].get("Properties")
        for logical in sorted(running)
        if str(resources.get(logical, {}).get("Type", "")).startswith("Custom::")
    ]
    return tuple(
        name
        for name in new.get("Parameters", {})
        if name in secret and name not in given and any(_refers(p, name) for p in custom)
    )


def fresh_reason(name: str) -> str:
    return (
        f"the reporter runs again in this upgrade and {name} is a one-time secret (NoEcho): "
        f"get a new one from the Clazar platform and set {secret_env_var(name)}, or answer the "
        "hidden prompt of --apply"
    )
