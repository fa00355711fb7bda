"""One builder module per stack, and the registry the CLI and tools use."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import FieldError
from ..options import CosellOptions, MarketplaceOptions, OptionError, parse_settings
from ..patterns import region_partition


@dataclass(frozen=True)
class Stack:
    """A stack this project builds: its short name, template name and options class."""

    short: str
    name: str  # also the template's file name, without extension
    options: type[Any]
    builder: str  # "module:function", imported on first use

    def build(self, options: Any = None) -> Any:
        module, function = self.builder.split(":")
        build: Callable[[Any], Any] = getattr(importlib.import_module(module), function)
        return build(options if options is not None else self.options())


STACKS = {
    s.short: s
    for s in (
        Stack(
            "marketplace",
            "clazar-marketplace",
            MarketplaceOptions,
            "clazar_templates.stacks.marketplace:build_marketplace",
        ),
        Stack(
            "cosell", "clazar-cosell", CosellOptions, "clazar_templates.stacks.cosell:build_cosell"
        ),
    )
}


def stack(name: str) -> Stack:
    """A stack by short name ("marketplace") or template name ("clazar-marketplace")."""
    for s in STACKS.values():
        if name in (s.short, s.name, f"{s.name}.yaml", f"{s.name}.json"):
            return s
    raise KeyError(f"unknown stack {name!r}; expected one of {', '.join(STACKS)}")


def options_for(target: Stack, settings: dict[str, str]) -> Any:
    """``target``'s options from ``--set`` strings; names only other stacks have are skipped.

    Raises OptionError for a name no stack has, or a value of the wrong form.
    """
    every = [s.options for s in STACKS.values()]
    return target.options(**parse_settings(target.options, settings, every))


def regional_options(
    target: Stack,
    region: str | None,
    *,
    options: Any = None,
    settings: Mapping[str, str] | None = None,
    region_option: str = "--region",
) -> Any:
    """``target``'s ``options`` (or those of ``--set``-style ``settings``) for a stack in
    ``region``, a region :func:`~clazar_templates.patterns.region_problem` accepts (None:
    any). The region decides the partition: ``settings`` without ``partition`` get the
    region's, and a partition of another is refused (a stack lives in its region's).

    Raises FieldError("set") for a bad setting or that conflict, naming ``region_option``.
    """
    if options is None:
        given = dict(settings or {})
        if region is not None:
            given.setdefault("partition", region_partition(region))
        try:
            options = options_for(target, given)
        except OptionError as error:
            raise FieldError("set", str(error)) from None
    wanted = region_partition(region) if region is not None else options.partition
    if options.partition != wanted:
        raise FieldError(
            "set",
            f"partition={options.partition} conflicts with {region_option} {region}, which is "
            f"in {wanted}; the region decides the partition (drop --set partition)",
        )
    return options
