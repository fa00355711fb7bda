"""The ``clazar-templates`` command (also ``python -m clazar_templates``).

Each command parses its arguments (see :mod:`.cli_args`), calls one library function and
prints. Heavy libraries (cfn-lint, boto3) and the review and AWS modules are imported
inside the commands that need them, so ``--help`` and ``build --no-lint`` start fast.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from ._version import __version__
from .aws.layout import DEFAULT_PREFIX, LATEST
from .cli_args import (
    bad_input,
    build_options,
    name_values,
    stacks_named,
    usage_errors,
)
from .errors import FieldError
from .extras import EXIT_MISSING_EXTRA, MissingExtraError, require


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    if not no_lint:
        require("lint", "build", otherwise="pass --no-lint to write the templates unlinted")
    from .template.render import lint_many, size_note, stale_files, to_json, to_yaml, write_all

    with usage_errors():
        targets = stacks_named(stacks)
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
    stale = stale_files(files)
    if check:
        for path in stale:
            click.echo(f"{path} differs from the generator; run `make templates`.", err=True)
        sys.exit(1 if stale else 0)
    if stale:  # a file that already holds its template is left alone, as `docs` does
        write_all({path: files[path] for path in stale})
    for path, text in files.items():
        click.echo(f"{'wrote' if path in stale else 'unchanged'} {path} ({size_note(text)})")


@cli.command("lint")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def lint_command(files: tuple[Path, ...]) -> None:
    """cfn-lint template FILES with this project's configuration."""
    require("lint", "lint")
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


@cli.command("docs")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Project directory holding README.md and docs/.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a document is stale.")
def docs_command(root: Path, check: bool) -> None:
    """Regenerate the README parameter tables, docs/permissions.md and
    docs/deployer-permissions.md."""
    require("deployer", "docs")
    from .review.docs import refresh_documents

    stale = refresh_documents(root, check=check)
    if check:
        for path in stale:
            click.echo(f"{path} is out of date; run `make templates`.", err=True)
        sys.exit(1 if stale else 0)
    for path in stale:
        click.echo(f"wrote {path}")


@cli.command("permissions")
@click.argument("stack", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
)
def permissions_command(stack: str | None, fmt: str) -> None:
    """Print the permission reference of STACK (all stacks by default)."""
    from .review.permissions import permissions

    with usage_errors():
        click.echo(permissions(stack, fmt), nl=False)


@cli.command("diagram")
@click.argument("stack_name", metavar="STACK")
@click.option("--set", "pairs", multiple=True, metavar="OPTION=VALUE", help="A build option.")
@click.option("--fenced", is_flag=True, help="Wrap in a ```mermaid block (for Markdown).")
def diagram_command(stack_name: str, pairs: tuple[str, ...], fenced: bool) -> None:
    """Print STACK's template as a Mermaid flowchart (what it creates, who reaches what)."""
    from .review.diagrams import diagram, fenced_block

    with usage_errors():
        (target,) = stacks_named([stack_name])
    text = diagram(target, build_options([target], pairs)[target.name])
    click.echo(fenced_block(text) if fenced else text, nl=False)


@cli.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown")
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="Deploy with this.")
@click.option("--region", default="us-east-1", show_default=True, help="Deploy in this region.")
@click.option("--bucket", help="Compare published versions: OLD and NEW are versions in it.")
@click.option("--prefix", default="", help="Key prefix of the published versions.")
@click.option("--stack", "stacks", multiple=True, help="With --bucket: which stacks (all).")
def diff_command(
    old: str,
    new: str,
    fmt: str,
    pairs: tuple[str, ...],
    region: str,
    bucket: str | None,
    prefix: str,
    stacks: tuple[str, ...],
) -> None:
    """Permission changes from template OLD to NEW (files, or versions with --bucket).

    Exit status: 0 unchanged or narrowed, 1 permissions grew, 2 bad input.
    """
    require("aws" if bucket else "lint", "diff --bucket" if bucket else "diff")
    from .review.diff import diff_files, diff_published

    parameters = name_values(pairs, "--param")
    if stacks and not bucket:
        bad_input("--stack needs --bucket (OLD and NEW are files otherwise)")
    try:
        if bucket:
            names = [s.name for s in stacks_named(stacks, "--stack")]
            results = diff_published(
                bucket, old, new, names, prefix=prefix, parameters=parameters, region=region
            )
        else:
            results = [diff_files(old, new, parameters=parameters, region=region)]
    except FieldError as error:
        bad_input(error)
    outputs = [r.to_json() if fmt == "json" else r.to_markdown() for r in results]
    if fmt == "json" and len(outputs) > 1:
        click.echo(json.dumps([json.loads(o) for o in outputs], indent=2))
    else:
        click.echo("\n".join(outputs), nl=False)
    sys.exit(1 if any(r.grew for r in results) else 0)


@cli.command("publish")
@click.option("--bucket", required=True, help="S3 bucket the templates are served from.")
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="Key prefix.")
@click.option("--version", default=__version__, show_default=True, help="Version to publish.")
@click.option("--region", help="The bucket's region (default: asked from S3).")
@click.option("--dry-run", is_flag=True, help="Print the plan; upload nothing.")
def publish_command(
    bucket: str, prefix: str, version: str, region: str | None, dry_run: bool
) -> None:
    """Build, lint and upload every template to s3://BUCKET/PREFIX/VERSION/ and latest/."""
    require("aws", "publish")
    from .aws.errors import aws_errors, aws_message
    from .aws.publishing import publish

    try:
        with usage_errors():
            objects = publish(
                bucket,
                prefix=prefix,
                version=version,
                region=region,
                dry_run=dry_run,
                progress=lambda message: click.echo(message, err=True),
            )
    except aws_errors() as error:
        raise click.ClickException(f"S3: {aws_message(error)}") from None
    for obj in objects:
        label = "would upload" if dry_run and obj.action == "upload" else obj.action
        click.echo(f"{label:<12} {obj.url}")


@cli.command("launch-url")
@click.argument("stack_arg", metavar="STACK")
@click.option("--bucket", required=True, help="Bucket the templates are published in.")
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="Key prefix.")
@click.option("--version", default=LATEST, show_default=True, help="Published version.")
@click.option("--bucket-region", default="us-east-1", show_default=True)
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="Repeatable.")
@click.option("--stack-name", help="Stack name in the form (default: the template name).")
@click.option("--region", help="Region the console opens in (default: --bucket-region).")
def launch_url_command(
    stack_arg: str,
    bucket: str,
    prefix: str,
    version: str,
    bucket_region: str,
    pairs: tuple[str, ...],
    stack_name: str | None,
    region: str | None,
) -> None:
    """Print the CloudFormation quick-create link for STACK, with parameters pre-filled."""
    from .aws.launch import launch_url

    params = name_values(pairs, "--param")
    with usage_errors():
        url = launch_url(
            stack_arg,
            bucket=bucket,
            prefix=prefix,
            version=version,
            bucket_region=bucket_region,
            params=params,
            stack_name=stack_name,
            region=region,
        )
    click.echo(url)


@cli.command("check")
@click.option("--stack", "stack_name", required=True, help="Name of the deployed stack.")
@click.option("--region", help="The stack's region (default: your AWS configuration's).")
@click.option("--vendor-profile", help="AWS profile with Clazar's credentials: also assume.")
@click.option("--bucket", help="Where the stack's template version is published, if not ours.")
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="With --bucket.")
def check_command(
    stack_name: str, region: str | None, vendor_profile: str | None, bucket: str | None, prefix: str
) -> None:
    """Test a deployed stack's configuration: print each check, then Connected or Error.

    Exit status: 0 connected, 1 a check failed, 2 bad input (one line).
    """
    require("aws", "check")
    from .aws.checks import check

    try:
        report = check(
            stack_name,
            region=region,
            vendor_profile=vendor_profile,
            bucket=bucket,
            prefix=prefix,
            progress=click.echo,
        )
    except FieldError as error:
        bad_input(error)
    click.echo(report.summary)
    if not report.connected:
        raise SystemExit(1)


@cli.command("stackset-plan")
@click.argument("stack_name", metavar="STACK")
@click.option(
    "--org-unit",
    "--org-units",
    "org_units",
    multiple=True,
    required=True,
    metavar="OU",
    help="Organizational unit (ou-...) or root (r-...) ID; repeatable or comma-separated.",
)
@click.option(
    "--regions",
    "--region",
    "regions",
    multiple=True,
    required=True,
    metavar="REGION",
    help="Region of the instances; repeatable or comma-separated.",
)
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="Stack parameter.")
@click.option("--set", "settings", multiple=True, metavar="OPTION=VALUE", help="Build option.")
@click.option("--name", "stack_set_name", help="Stack set name (default: the template name).")
@click.option("--failure-tolerance", default="0", show_default=True, help="Accounts or N%.")
@click.option("--max-concurrent", default="1", show_default=True, help="Accounts or N%.")
@click.option(
    "--region-concurrency",
    type=click.Choice(["sequential", "parallel"], case_sensitive=False),
    default="sequential",
    show_default=True,
)
@click.option("--bucket", help="Send the TemplateURL of the template published in this bucket.")
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="With --bucket.")
@click.option("--version", default=__version__, show_default=True, help="With --bucket.")
@click.option("--bucket-region", default="us-east-1", show_default=True, help="With --bucket.")
@click.option(
    "--template-url",
    help="The same as --bucket/--prefix/--version/--bucket-region, as the published URL.",
)
@click.option("--delegated-admin", is_flag=True, help="Run as a delegated administrator.")
@click.option("--home-region", help="Region of the stack set itself (default: your profile's).")
@click.option("--apply", "do_apply", is_flag=True, help="Send the requests (default: print).")
def stackset_plan_command(
    stack_name: str,
    org_units: tuple[str, ...],
    regions: tuple[str, ...],
    pairs: tuple[str, ...],
    settings: tuple[str, ...],
    stack_set_name: str | None,
    failure_tolerance: str,
    max_concurrent: str,
    region_concurrency: str,
    bucket: str | None,
    prefix: str,
    version: str,
    bucket_region: str,
    template_url: str | None,
    delegated_admin: bool,
    home_region: str | None,
    do_apply: bool,
) -> None:
    """Print (or --apply) the StackSet requests that deploy STACK to whole OUs.

    With --bucket the stack set takes the published template's URL; without, the template
    body (at most 51,200 bytes). NoEcho parameters (ClazarSecretKey) are read from the
    environment (CLAZAR_SECRET_KEY) or, with --apply, a hidden prompt; never from --param.
    """
    require("aws", "stackset-plan")
    from .aws.errors import aws_errors, aws_message
    from .aws.stacksets import apply_plan, cloudformation_client, stackset_parameters
    from .aws.stacksets import stackset_plan as plan_for

    with usage_errors():
        (target,) = stacks_named([stack_name])
    options = build_options([target], settings)[target.name]
    given = name_values(pairs, "--param")

    def ask(name: str) -> str:
        return str(click.prompt(name, hide_input=True, err=True))

    try:
        with usage_errors():
            params = stackset_parameters(
                target, given, options=options, ask=ask if do_apply else None
            )
            plan = plan_for(
                target,
                org_units=_split(org_units),
                regions=_split(regions),
                params=params,
                stack_set_name=stack_set_name,
                failure_tolerance=failure_tolerance,
                max_concurrent=max_concurrent,
                region_concurrency=region_concurrency,
                bucket=bucket,
                prefix=prefix,
                version=version,
                bucket_region=bucket_region,
                template_url=template_url,
                options=options,
                call_as="DELEGATED_ADMIN" if delegated_admin else "SELF",
            )
            if not do_apply:
                click.echo(plan.to_json(), nl=False)
                return
            result = apply_plan(
                plan,
                cloudformation_client(home_region),
                progress=lambda m: click.echo(m, err=True),
            )
    except aws_errors() as error:  # say what AWS said
        raise click.ClickException(aws_message(error)) from None
    click.echo(json.dumps(dataclasses.asdict(result)))
    sys.exit(0 if result.status in ("SUCCEEDED", "RUNNING") else 1)


def _split(values: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated values (``--regions a,b --regions c``) as one list."""
    return [part for value in values for part in value.split(",")]


@cli.command("stackset-status")
@click.argument("name")
@click.option("--delegated-admin", is_flag=True, help="Run as a delegated administrator.")
@click.option("--home-region", help="Region of the stack set (default: your profile's).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def stackset_status_command(
    name: str, delegated_admin: bool, home_region: str | None, fmt: str
) -> None:
    """Every instance of stack set NAME with its status and reason; exit 1 if any failed."""
    require("aws", "stackset-status")
    from .aws.errors import aws_errors, aws_message
    from .aws.stacksets import cloudformation_client, stackset_status

    try:
        found = stackset_status(
            name,
            cloudformation_client(home_region),
            call_as="DELEGATED_ADMIN" if delegated_admin else "SELF",
        )
    except aws_errors() as error:
        raise click.ClickException(aws_message(error)) from None
    if fmt == "json":
        click.echo(json.dumps([dataclasses.asdict(i) for i in found], indent=2))
    else:
        click.echo("| account | region | status | detail | reason |")
        click.echo("| --- | --- | --- | --- | --- |")
        for i in found:
            click.echo(
                f"| {i.account} | {i.region} | {i.status} | {i.detailed_status} | "
                f"{i.reason.replace('|', '/')} |"
            )
        if not found:
            click.echo(f"stack set {name} has no instances", err=True)
    sys.exit(1 if any(i.failed for i in found) else 0)


@cli.command("deployer-policy")
@click.argument("stack_arg", metavar="STACK")
@click.option(
    "--set",
    "pairs",
    multiple=True,
    metavar="OPTION=VALUE",
    help="A build-time option of the template deployed. Repeatable.",
)
@click.option("--stack-name", help="The stack's name (else ${StackName}).")
@click.option("--region", help="The stack's region (else ${AWS::Region}).")
@click.option("--account", help="The stack's account ID (else ${AWS::AccountId}).")
@click.option("--template-bucket", help="The bucket the template is published in.")
@click.option("--template-prefix", default=DEFAULT_PREFIX, show_default=True, help="Its prefix.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "markdown", "template"]),
    default="json",
    show_default=True,
)
def deployer_policy_command(
    stack_arg: str,
    pairs: tuple[str, ...],
    stack_name: str | None,
    region: str | None,
    account: str | None,
    template_bucket: str | None,
    template_prefix: str,
    fmt: str,
) -> None:
    """The least-privilege policy that deploys STACK (JSON, Markdown, or a service-role
    template), from the resource schemas cfn-lint ships."""
    require("deployer", "deployer-policy")
    from .review.deployer import deployer_policy

    with usage_errors():
        (target,) = stacks_named((stack_arg,))
    options = build_options([target], pairs)[target.name]
    with usage_errors():
        text = deployer_policy(
            target,
            options=options,
            stack_name=stack_name,
            region=region,
            account=account,
            template_bucket=template_bucket,
            template_prefix=template_prefix,
            fmt=fmt,
        )
    click.echo(text, nl=False)


@cli.command("upgrade")
@click.option("--stack", "stack_name", required=True, help="Name of the deployed stack.")
@click.option("--to", required=True, metavar="VERSION|FILE", help="Target version or template.")
@click.option("--bucket", help="Where VERSION is published, if not this package's version.")
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="With --bucket.")
@click.option("--region", help="The stack's region (default: your AWS configuration's).")
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="A new value.")
@click.option("--apply", is_flag=True, help="Execute the change set and follow the stack.")
@click.option("--accept-growth", is_flag=True, help="Apply even if permissions grow.")
@click.option(
    "--accept-replacement", is_flag=True, help="Apply even if stateful resources are replaced."
)
def upgrade_command(
    stack_name: str,
    to: str,
    bucket: str | None,
    prefix: str,
    region: str | None,
    pairs: tuple[str, ...],
    apply: bool,
    accept_growth: bool,
    accept_replacement: bool,
) -> None:
    """Plan upgrading a stack to VERSION or FILE: parameters, permission diff, resource
    changes of a real change set (deleted afterwards); with --apply, execute it.

    Exit status: 0 planned (or applied), 1 the stack, the target or AWS stops it, the apply
    is refused or the update failed (one line), 2 bad input (one line).
    """
    require("aws", "upgrade")
    from .aws.upgrade import UpgradeError, UpgradeInputError, upgrade

    parameters = name_values(pairs, "--param")
    try:
        _, result = upgrade(
            stack_name,
            to,
            bucket=bucket,
            prefix=prefix,
            region=region,
            parameters=parameters,
            apply=apply,
            accept_growth=accept_growth,
            accept_replacement=accept_replacement,
            report=click.echo,
            progress=lambda line: click.echo(line, err=True),
        )
    except (UpgradeInputError, UpgradeError) as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2 if isinstance(error, UpgradeInputError) else 1)
    if result is not None:
        click.echo(result.summary)
        sys.exit(0 if result.ok else 1)


def main() -> None:
    try:
        cli(prog_name="clazar-templates")
    except MissingExtraError as error:  # one line, and an exit status of its own (README)
        click.echo(f"Error: {error}", err=True)
        sys.exit(EXIT_MISSING_EXTRA)
