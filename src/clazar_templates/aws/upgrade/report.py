"""An upgrade plan as Markdown: versions, parameters, permissions, resources, what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .stack import secret_env_var

if TYPE_CHECKING:
    from . import UpgradePlan
    from .changes import ResourceChange

__all__ = ["markdown"]


def markdown(plan: UpgradePlan) -> str:
    lines = [
        f"## Upgrade of stack `{plan.stack_name}` ({plan.region})",
        "",
        f"{plan.template} **{plan.from_version} → {plan.to_version}** (target: {plan.source})",
        "",
        "### Parameters",
        "",
    ]
    if plan.parameters:
        lines += ["| parameter | change | detail |", "| --- | --- | --- |"]
        lines += [f"| `{p.name}` | {p.change} | {p.detail} |" for p in plan.parameters]
    else:
        lines.append("No parameter is new, removed or to provide; every value is kept.")
    lines += ["", plan.permissions.to_markdown().rstrip("\n"), "", "### Resource changes", ""]
    lines += _resources(plan.changes)
    lines += ["", "### Verdict", "", *_verdict(plan)]
    return "\n".join(lines) + "\n"


def _resources(changes: tuple[ResourceChange, ...]) -> list[str]:
    if not changes:
        return ["**No resource changes.**"]
    counts = {a: sum(c.action == a for c in changes) for a in ("Add", "Modify", "Remove")}
    replaced = sum(c.replaces for c in changes)
    lines = [
        f"{counts['Add']} to add, {counts['Modify']} to modify ({replaced} replaced), "
        f"{counts['Remove']} to remove.",
        "",
        "| action | resource | type | replaced | why |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in changes:
        lines.append(
            f"| {c.action} | `{c.logical_id}` | {c.resource_type} | {_replaced(c)} | {_why(c)} |"
        )
    flagged = [c for c in changes if c.flagged]
    if flagged:
        lines.append("")
        lines += [f"- **`{c.logical_id}` ({c.resource_type}) {c.fate}.**" for c in flagged]
    return lines


def _replaced(change: ResourceChange) -> str:
    if change.action != "Modify":
        return ""
    if change.replaces:
        return "**yes**"
    return "maybe" if change.replacement == "Conditional" else "no"


def _why(change: ResourceChange) -> str:
    parts = []
    if change.create_only:
        parts.append("create-only " + ", ".join(f"`{p}`" for p in change.create_only) + " changes")
    if change.replacement:
        parts.append(f"CloudFormation says Replacement: {change.replacement}")
    elif change.action == "Modify":
        parts.append("CloudFormation gave no Replacement")
    return "; ".join(parts)


def _verdict(plan: UpgradePlan) -> list[str]:
    if not plan.changes:
        return ["Nothing to apply: the stack already deploys this."]
    lines = [f"- {r}." for r in plan.refusals]
    lines += [
        f"- `{n}` needs a new value: set `{secret_env_var(n)}`, or answer the hidden prompt of "
        "`--apply`."
        for n in plan.fresh
    ]
    if not lines:
        lines.append(
            "- Nothing grows and nothing stateful is replaced or removed: `--apply` applies it."
        )
    if not plan.kept:
        lines.append("- The change set was deleted (a plan only); `--apply` makes a new one.")
    return lines
