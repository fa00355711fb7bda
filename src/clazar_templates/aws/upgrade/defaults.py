"""What an upgrade keeps that a new deployment would not: parameters whose Default changed
(an upgrade keeps each parameter's previous value, so a new default never reaches a
deployed stack by itself), and the target template's Rules for the stack's region (which
moto never evaluates and CloudFormation only once the change set is made)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...options import EVENTS_PARAMETER
from ...template.resolve import refusals
from .stack import ParameterNote, UpgradeInputError

__all__ = ["DEFAULT_CHANGED", "default_changes", "refuse_by_rules"]

DEFAULT_CHANGED = "default changed"


def default_changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    values: Mapping[str, str],
    given: Mapping[str, str],
) -> list[ParameterNote]:
    """A note for every parameter whose Default differs between ``old`` and ``new`` and that
    keeps the stack's value (``values``, not in ``given``) when that value is not the new
    default: the seller's cue to opt in."""
    before = old.get("Parameters", {})
    notes = []
    for name, spec in new.get("Parameters", {}).items():
        if name in given or name not in values or spec.get("NoEcho") or "Default" not in spec:
            continue
        if "Default" not in before.get(name, {}):
            continue
        default, previous = str(spec["Default"]), str(before[name]["Default"])
        if default != previous and values[name] != default:
            notes.append(
                ParameterNote(
                    name,
                    DEFAULT_CHANGED,
                    f"{name} stays {values[name]}; the new default is {default}: "
                    f"`--param {name}={default}`",
                )
            )
    return notes


def refuse_by_rules(
    stack_name: str, target: Mapping[str, Any], deploys: Mapping[str, str], region: str
) -> None:
    """UpgradeInputError, before any change set, when ``target``'s Rules refuse the stack
    with the values it would deploy with (``deploys``) in ``region``, saying what to set."""
    declared = target.get("Parameters", {})
    values = {k: v for k, v in deploys.items() if k in declared}
    refused = refusals(target, values, region=region)
    if not refused:
        return
    fix = (
        f"; pass --param {EVENTS_PARAMETER}=false" if values.get(EVENTS_PARAMETER) == "true" else ""
    )
    raise UpgradeInputError(
        "--param", f"stack {stack_name} in {region}: refused: {'; '.join(refused)}{fix}"
    )
