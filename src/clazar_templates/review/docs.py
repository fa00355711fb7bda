"""Reference documents generated from the templates, so they can never disagree with them.

``clazar-templates docs`` rewrites the generated parts of README.md (between
``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers: the parameter tables and the
scanners' suppressions), ``docs/permissions.md`` (the permission reference of
:mod:`clazar_templates.review.permissions`, with a diagram of each stack from
:mod:`clazar_templates.review.diagrams`) and ``docs/deployer-permissions.md`` (the
deployer's policy of :mod:`clazar_templates.review.deployer`); ``--check`` only compares.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..options import option_fields
from ..stacks import STACKS, Stack
from .permissions import markdown_cell, permissions_markdown

__all__ = [
    "DEPLOYER_DOC",
    "PERMISSIONS_DOC",
    "generated_files",
    "generated_sections",
    "parameter_table",
    "refresh_documents",
    "update_markers",
]

PERMISSIONS_DOC = Path("docs/permissions.md")
DEPLOYER_DOC = Path("docs/deployer-permissions.md")


def parameter_table(target: Stack) -> str:
    """Markdown table of every parameter of ``target``'s deploy-time template."""
    template = target.build().to_dict()
    options = {spec.parameter: name for name, spec in option_fields(target.options)}
    rows = [
        "| Parameter | Default | Python option | What it changes |",
        "| --- | --- | --- | --- |",
    ]
    for name, spec in template.get("Parameters", {}).items():
        default = spec.get("Default")
        shown = "(required)" if default is None else f"`{default}`" if default else '`""`'
        option = f"`{options[name]}`" if name in options else "deploy time only"
        if spec.get("NoEcho"):
            option += " (NoEcho)"
        rows.append(f"| `{name}` | {shown} | {option} | {markdown_cell(spec['Description'])} |")
    return "\n".join(rows)


def suppression_table() -> str:
    """Markdown table of every scanner finding the design accepts (checkov and cfn-guard),
    the resources that carry it in the deploy-time templates, and why."""
    from ..stacks.suppressions import ALL

    built = [s.build().to_dict()["Resources"] for s in STACKS.values()]
    rows = ["| checkov | cfn-guard | resources | why |", "| --- | --- | --- | --- |"]
    for suppression in ALL:
        where = [
            f"`{logical}`"
            for resources in built
            for logical, resource in resources.items()
            if _carries(resource.get("Metadata", {}), suppression, ALL)
        ]
        cells = [
            ", ".join(f"`{c}`" for c in suppression.checkov) or "(none)",
            ", ".join(f"`{g}`" for g in suppression.guard),
            ", ".join(where),
            markdown_cell(suppression.reason),
        ]
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows)


def _carries(metadata: dict[str, Any], suppression: Any, everything: tuple[Any, ...]) -> bool:
    """Whether a resource's Metadata holds ``suppression``. A Guard rule that also answers a
    checkov check elsewhere belongs to the suppression with that check where it is skipped."""
    skipped = {skip["id"] for skip in metadata.get("checkov", {}).get("skip", [])}
    rules = set(metadata.get("guard", {}).get("SuppressedRules", []))
    if not (set(suppression.checkov) <= skipped and set(suppression.guard) <= rules):
        return False
    return bool(suppression.checkov) or not any(
        other.checkov
        and set(other.checkov) <= skipped
        and set(other.guard) & set(suppression.guard)
        for other in everything
    )


def generated_sections() -> dict[str, Callable[[], str]]:
    """Marker name -> text, for README.md (each stack's picture is in docs/permissions.md)."""
    sections: dict[str, Callable[[], str]] = {"suppressions": suppression_table}
    for s in STACKS.values():
        sections[f"parameters-{s.short}"] = functools.partial(parameter_table, s)
    return sections


_MARKER = re.compile(
    r"(<!-- BEGIN (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END (?P=name) -->)", re.S
)


def update_markers(text: str, sections: dict[str, Callable[[], str]]) -> str:
    """``text`` with each marked section replaced by its generated content."""

    def fill(match: re.Match[str]) -> str:
        make = sections.get(match.group("name"))
        if make is None:
            return match.group(0)
        return f"{match.group(1)}{make().rstrip()}\n{match.group(4)}"

    return _MARKER.sub(fill, text)


def generated_files(root: Path) -> dict[Path, str]:
    """Every generated document under ``root``, with its up-to-date text."""
    from .deployer.render import deployer_markdown

    readme = root / "README.md"
    return {
        readme: update_markers(readme.read_text(encoding="utf-8"), generated_sections()),
        root / PERMISSIONS_DOC: permissions_markdown(list(STACKS.values())),
        root / DEPLOYER_DOC: deployer_markdown(list(STACKS.values())),
    }


def refresh_documents(root: Path, *, check: bool = False) -> list[Path]:
    """The generated documents under ``root`` that are out of date, rewritten (atomically)
    unless ``check``."""
    from ..template.render import stale_files, write_all

    files = generated_files(root)
    stale = stale_files(files)
    if not check:
        write_all({p: files[p] for p in stale})
    return stale
