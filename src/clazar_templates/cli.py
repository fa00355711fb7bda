"""The ``clazar-templates`` command (also ``python -m clazar_templates``).

Heavy libraries (cfn-lint, boto3) are imported inside the commands that need them, so
``--help`` and ``build --no-lint`` start fast.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from .options import OptionError
from .stacks import STACKS, Stack, options_for, stack


def name_values(pairs: tuple[str, ...], hint: str = "--set") -> dict[str, str]:
    """``NAME=VALUE`` arguments (``--set``, ``--param``) as a dict; exit 2 on a malformed one."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            form = "OPTION=VALUE" if hint == "--set" else "NAME=VALUE"
            raise click.BadParameter(f"{pair!r} is not {form}", param_hint=hint)
        values[name.strip()] = value
    return values


def _stacks(names: tuple[str, ...]) -> list[Stack]:
    try:
        return [stack(n) for n in names] if names else list(STACKS.values())
    except KeyError as error:
        raise click.BadParameter(str(error.args[0]), param_hint="STACK") from None


def build_options(targets: list[Stack], pairs: tuple[str, ...]) -> dict[str, Any]:
    """Each target's options from ``--set`` pairs (template name -> options); exit 2 on a
    bad name or value, naming the option and the accepted form."""
    settings = name_values(pairs)
    try:
        return {t.name: options_for(t, settings) for t in targets}
    except OptionError as error:
        raise click.BadParameter(str(error), param_hint="--set") from None


# Commands that live in their own modules, imported only when run (keeps startup fast).
LAZY_COMMANDS = {
    "docs": "clazar_templates.review.docs:docs_command",
    "permissions": "clazar_templates.review.permissions:permissions_command",
    "publish": "clazar_templates.aws.publishing:publish_command",
    "launch-url": "clazar_templates.aws.launch:launch_url_command",
    "check": "clazar_templates.aws.checks:check_command",
    "stackset-plan": "clazar_templates.aws.stacksets:stackset_plan_command",
    "stackset-status": "clazar_templates.aws.stacksets:stackset_status_command",
    "diff": "clazar_templates.review.diff:diff_command",
    "diagram": "clazar_templates.review.diagrams:diagram_command",
}


class LazyGroup(click.Group):
    """A click group whose LAZY_COMMANDS are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        available = [n for n, target in LAZY_COMMANDS.items() if _module_exists(target)]
        return sorted([*super().list_commands(ctx), *available])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and _module_exists(LAZY_COMMANDS[name]):
            module, attr = LAZY_COMMANDS[name].split(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, name)


def _module_exists(target: str) -> bool:
    from importlib.util import find_spec

    return find_spec(target.split(":", maxsplit=1)[0]) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clazar-templates")
def cli() -> None:
    """Build, check and publish Clazar's CloudFormation templates."""


@cli.command()
@click.argument("stacks", nargs=-1)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("templates"),
    show_default=True,
    help="Directory to write templates to.",
)
@click.option(
    "--set",
    "pairs",
    multiple=True,
    metavar="OPTION=VALUE",
    help="A build-time option (true/false, a value, or 'deploy'). Repeatable.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
@click.option("--no-lint", is_flag=True, help="Skip cfn-lint.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if --out differs.")
def build(
    stacks: tuple[str, ...], out: Path, pairs: tuple[str, ...], fmt: str, no_lint: bool, check: bool
) -> None:
    """Render STACK templates (all by default), lint them, write them atomically."""
    from .template.render import lint_many, size_note, to_json, to_yaml, write_all

    targets = _stacks(stacks)
    options = build_options(targets, pairs)
    files: dict[Path, str] = {}
    failed = False
    for target in targets:
        template = target.build(options[target.name])
        text = to_yaml(template) if fmt == "yaml" else to_json(template)
        files[out / f"{target.name}.{fmt}"] = text
    linted = lint_many(list(files.values())) if not no_lint else [[] for _ in files]
    for path, findings in zip(files, linted, strict=True):
        for finding in findings:
            failed = True
            click.echo(f"{path}: {finding}", err=True)
    if failed:
        click.echo("cfn-lint found problems; nothing was written.", err=True)
        sys.exit(1)
    if check:
        stale = [
            p
            for p, text in files.items()
            if not p.exists() or p.read_text(encoding="utf-8") != text
        ]
        for path in stale:
            click.echo(f"{path} differs from the generator; run `make templates`.", err=True)
        sys.exit(1 if stale else 0)
    write_all(files)
    for path, text in files.items():
        click.echo(f"wrote {path} ({size_note(text)})")


@cli.command("lint")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def lint_command(files: tuple[Path, ...]) -> None:
    """cfn-lint template FILES with this project's configuration."""
    from .template.render import lint

    failed = False
    for path in files:
        findings = lint(path.read_text(encoding="utf-8"))
        for finding in findings:
            click.echo(f"{path}: {finding}")
        failed = failed or bool(findings)
        if not findings:
            click.echo(f"{path}: ok")
    sys.exit(1 if failed else 0)


def main() -> None:
    cli(prog_name="clazar-templates")
