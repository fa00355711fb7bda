"""The ``clazar-templates`` command (also ``python -m clazar_templates``).

Each command parses its arguments (see :mod:`.cli_args`), calls one library function and
prints. Heavy libraries (cfn-lint, boto3) and the review and AWS modules are imported
inside the commands that need them, so ``--help`` and ``build --no-lint`` start fast.

Conventions (the README's "Commands" section): results on stdout, progress and errors on
stderr; ``--format json`` prints one documented shape per command; ``-`` is stdin where a
command reads a file; ``--profile``/``--region`` on every command that calls AWS; bad input
is one ``Error:`` line and exit 2; an OS error is one line naming the path.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from . import cli_args
from ._version import __version__
from .aws.layout import DEFAULT_PREFIX, LATEST
from .cli_args import (
    aws_session,
    bad_input,
    build_options,
    echo_json,
    hidden_prompt,
    name_values,
    os_message,
    read_input,
    stacks_named,
    usage_error,
    usage_errors,
)
from .errors import FieldError
from .extras import EXIT_MISSING_EXTRA, MissingExtraError, require


class _Commands(click.Group):
    """The command group: bad input a command did not translate itself is still a usage
    error naming the field, and an OS error one ``Error:`` line naming the path (exit 1);
    never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FieldError as error:
            raise usage_error(error) from None
        except OSError as error:
            raise click.ClickException(os_message(error)) from None


profile_option = click.option(
    "--profile", help="AWS profile to use (default: AWS_PROFILE, else the default chain)."
)
"""``--profile``: the AWS profile whose credentials (and region) a command uses."""


FORMAT_JSON = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the result as one JSON document (see the README for its shape).",
)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
        with usage_errors():  # a path that cannot be written: one line naming it, exit 2
            write_all({path: files[path] for path in stale}, field="out")
    for path, text in files.items():
        click.echo(f"{'wrote' if path in stale else 'unchanged'} {path} ({size_note(text)})")


@cli.command("lint")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True)
)
@FORMAT_JSON
def lint_command(files: tuple[str, ...], fmt: str) -> None:
    """cfn-lint template FILES (- for stdin) with this project's configuration; exit 1 on
    a finding."""
    require("lint", "lint")
    from .template.render import lint

    found = {path: lint(read_input(path)) for path in files}
    if fmt == "json":
        echo_json(
            [
                {"file": path, "findings": [dataclasses.asdict(f) for f in findings]}
                for path, findings in found.items()
            ]
        )
    for path, findings in found.items() if fmt == "text" else ():
        for finding in findings:
            click.echo(f"{path}: {finding}")
        if not findings:
            click.echo(f"{path}: ok")
    sys.exit(1 if any(found.values()) else 0)


@cli.command("docs", hidden=True)  # the maintainers' (make templates), not a user's
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

    if not (root / "README.md").is_file():
        bad_input(
            f"--root: {root} is not a clazar-templates checkout (no README.md); docs "
            "regenerates the repository's documents (make templates)"
        )
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
@FORMAT_JSON
def diagram_command(stack_name: str, pairs: tuple[str, ...], fenced: bool, fmt: str) -> None:
    """Print STACK's template as a Mermaid flowchart (what it creates, who reaches what)."""
    from .review.diagrams import diagram, fenced_block

    with usage_errors():
        (target,) = stacks_named([stack_name])
    text = diagram(target, build_options([target], pairs)[target.name])
    text = fenced_block(text) if fenced else text
    if fmt == "json":
        echo_json({"stack": target.name, "mermaid": text})
    else:
        click.echo(text, nl=False)


@cli.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown")
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="Deploy with this.")
@click.option("--region", default="us-east-1", show_default=True, help="Deploy in this region.")
@click.option("--bucket", help="Compare published versions: OLD and NEW are versions in it.")
@click.option(
    "--prefix", default=DEFAULT_PREFIX, show_default=True, help="With --bucket: as publish's."
)
@click.option("--stack", "stacks", multiple=True, help="With --bucket: which stacks (all).")
@profile_option
def diff_command(
    old: str,
    new: str,
    fmt: str,
    pairs: tuple[str, ...],
    region: str,
    bucket: str | None,
    prefix: str,
    stacks: tuple[str, ...],
    profile: str | None,
) -> None:
    """Permission changes from template OLD to NEW (files, - for stdin, or versions with
    --bucket). --format json is always a list, one diff per template.

    Exit status: 0 unchanged or narrowed, 1 permissions grew, 2 bad input.
    """
    require("aws" if bucket else "lint", "diff --bucket" if bucket else "diff")
    from .review.diff import diff, diff_published

    parameters = name_values(pairs, "--param")
    if stacks and not bucket:
        bad_input("--stack needs --bucket (OLD and NEW are files otherwise)")
    if old == new == "-" and not bucket:
        bad_input("OLD and NEW: only one of them can be - (stdin)")
    try:
        if bucket:
            names = [s.name for s in stacks_named(stacks, "--stack")]
            aws_session(profile, None, need_region=False)
            results = diff_published(
                bucket, old, new, names, prefix=prefix, parameters=parameters, region=region
            )
        else:
            texts = read_input(old), read_input(new)
            results = [diff(*texts, parameters=parameters, region=region)]
    except FieldError as error:
        bad_input(error)
    if fmt == "json":
        echo_json([json.loads(r.to_json()) for r in results])
    else:
        click.echo("\n".join(r.to_markdown() for r in results), nl=False)
    sys.exit(1 if any(r.grew for r in results) else 0)


@cli.command("publish")
@click.option("--bucket", required=True, help="S3 bucket the templates are served from.")
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="Key prefix.")
@click.option("--version", default=__version__, show_default=True, help="Version to publish.")
@click.option("--region", help="The bucket's region (default: asked from S3).")
@click.option("--dry-run", is_flag=True, help="Print the plan; upload nothing.")
@profile_option
@FORMAT_JSON
def publish_command(
    bucket: str,
    prefix: str,
    version: str,
    region: str | None,
    dry_run: bool,
    profile: str | None,
    fmt: str,
) -> None:
    """Build, lint and upload every template to s3://BUCKET/PREFIX/VERSION/ and latest/."""
    require("aws", "publish")
    from .aws.errors import aws_errors, aws_message
    from .aws.publishing import publish

    aws_session(profile, region, need_region=False)
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
    if fmt == "json":
        echo_json([{**dataclasses.asdict(o), "dry_run": dry_run} for o in objects])
        return
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
@FORMAT_JSON
def launch_url_command(
    stack_arg: str,
    bucket: str,
    prefix: str,
    version: str,
    bucket_region: str,
    pairs: tuple[str, ...],
    stack_name: str | None,
    region: str | None,
    fmt: str,
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
    if fmt == "json":
        echo_json({"url": url})
    else:
        click.echo(url)


@cli.command("check")
@click.option("--stack", "stack_name", required=True, help="Name of the deployed stack.")
@click.option("--region", help="The stack's region (default: your AWS configuration's).")
@click.option("--vendor-profile", help="AWS profile with Clazar's credentials: also assume.")
@click.option("--bucket", help="Where the stack's template version is published, if not ours.")
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="With --bucket.")
@profile_option
@FORMAT_JSON
def check_command(
    stack_name: str,
    region: str | None,
    vendor_profile: str | None,
    bucket: str | None,
    prefix: str,
    profile: str | None,
    fmt: str,
) -> None:
    """Test a deployed stack's configuration: print each check, then Connected (stdout) or
    Error (stderr).

    Exit status: 0 connected, 1 a check failed, 2 bad input (one line).
    """
    require("aws", "check")
    from .aws.checks import check

    session = aws_session(profile, region)
    try:
        report = check(
            stack_name,
            region=region,
            vendor_profile=vendor_profile,
            bucket=bucket,
            prefix=prefix,
            progress=click.echo if fmt == "text" else None,
            session=session,
        )
    except FieldError as error:
        bad_input(error)
    if fmt == "json":
        echo_json(
            {
                "stack": report.stack_name,
                "connected": report.connected,
                "reason": report.reason,
                "results": [dataclasses.asdict(r) for r in report.results],
            }
        )
    else:
        click.echo(report.summary, err=not report.connected)
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
@profile_option
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
    profile: str | None,
) -> None:
    """Print (or --apply) the StackSet requests that deploy STACK to whole OUs.

    With --bucket the stack set takes the published template's URL; without, the template
    body (at most 51,200 bytes). NoEcho parameters (ClazarSecretKey) are read from the
    environment (CLAZAR_SECRET_KEY) or, with --apply in a terminal, a hidden prompt; never
    from --param. Prints the plan as JSON; with --apply, the operation's result as JSON.
    """
    require("aws", "stackset-plan")
    from .aws.errors import aws_errors, aws_message
    from .aws.stacksets import (
        apply_plan,
        cloudformation_client,
        secret_env_var,
        stackset_options,
        stackset_parameters,
    )
    from .aws.stacksets import stackset_plan as plan_for

    with usage_errors():
        (target,) = stacks_named([stack_name])
        # the regions decide the partition (a GovCloud ARN in --set needs no partition=)
        options = stackset_options(target, _split(regions), name_values(settings))
    given = name_values(pairs, "--param")
    if do_apply or bucket or template_url:  # a published version is read from S3
        aws_session(profile, home_region, region_option="--home-region", need_region=do_apply)

    def ask(name: str) -> str:
        return hidden_prompt(name, secret_env_var(name))

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
            for note in plan.notes:
                click.echo(f"note: {note}", err=True)
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
@click.option(
    "--home-region", "--region", help="Region of the stack set (default: your profile's)."
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@profile_option
def stackset_status_command(
    name: str, delegated_admin: bool, home_region: str | None, fmt: str, profile: str | None
) -> None:
    """Every instance of stack set NAME with its status and reason; exit 1 if any failed."""
    require("aws", "stackset-status")
    from .aws.errors import aws_errors, aws_message
    from .aws.stacksets import cloudformation_client, stackset_status

    aws_session(profile, home_region, region_option="--home-region")
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
    with usage_errors():
        text = deployer_policy(
            target,
            settings=name_values(pairs),  # the region decides their partition
            stack_name=stack_name,
            region=region,
            account=account,
            template_bucket=template_bucket,
            template_prefix=template_prefix,
            fmt=fmt,
            warn=lambda note: click.echo(f"Note: {note}", err=True),
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
@click.option(
    "--accept-removal", is_flag=True, help="Apply even if stateful resources are removed."
)
@profile_option
@FORMAT_JSON
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
    accept_removal: bool,
    profile: str | None,
    fmt: str,
) -> None:
    """Plan upgrading a stack to VERSION or FILE: parameters, permission diff, resource
    changes of a real change set (deleted afterwards); with --apply, execute it.

    When the reporter runs again, --apply needs a new one-time ClazarSecretKey: it is read
    from the environment (CLAZAR_SECRET_KEY) or else a hidden prompt; a --param value would
    land in shell history.

    Exit status: 0 planned (or applied), 1 the stack, the target or AWS stops it, the apply
    is refused or the update failed (one line), 2 bad input (one line).
    """
    require("aws", "upgrade")
    from .aws.upgrade import UpgradeError, UpgradeInputError, upgrade

    parameters = name_values(pairs, "--param")
    session = aws_session(profile, region)
    try:
        plan, result = upgrade(
            stack_name,
            to,
            session=session,
            bucket=bucket,
            prefix=prefix,
            region=region,
            parameters=parameters,
            apply=apply,
            accept_growth=accept_growth,
            accept_replacement=accept_replacement,
            accept_removal=accept_removal,
            ask=_ask_secret,
            report=click.echo if fmt == "text" else None,
            progress=lambda line: click.echo(line, err=True),
        )
    except (UpgradeInputError, UpgradeError) as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2 if isinstance(error, UpgradeInputError) else 1)
    if fmt == "json":
        echo_json(_upgrade_data(plan, result))
        sys.exit(0 if result is None or result.ok else 1)
    if result is not None:
        click.echo(result.summary)
        sys.exit(0 if result.ok else 1)


def _upgrade_data(plan: Any, result: Any) -> dict[str, Any]:
    """``upgrade --format json``: the plan (as :class:`UpgradePlan` has it, the permission
    diff as ``diff --format json`` prints one) and, with --apply, the result (else null)."""
    data = {
        f.name: getattr(plan, f.name)
        for f in dataclasses.fields(plan)
        if f.name not in ("client", "permissions", "parameters", "changes")
    }
    data["parameters"] = [dataclasses.asdict(p) for p in plan.parameters]
    data["changes"] = [{**dataclasses.asdict(c), "flagged": c.flagged} for c in plan.changes]
    data["permissions"] = json.loads(plan.permissions.to_json())
    data["result"] = None if result is None else {**dataclasses.asdict(result), "ok": result.ok}
    return data


def _ask_secret(name: str) -> str:
    """A NoEcho value from a hidden prompt; without a terminal, a usage error naming the
    environment variable instead of click's bare "Aborted!"."""
    from .aws.stacksets import secret_env_var
    from .aws.upgrade import UpgradeInputError

    if not cli_args.has_terminal():  # the one check (tests replace it)
        raise UpgradeInputError(
            secret_env_var(name),
            f"{name} needs a new value and there is no terminal to ask for it on: set "
            f"{secret_env_var(name)} in the environment",
        )
    return str(click.prompt(f"{name} (hidden)", hide_input=True, err=True))


def main() -> None:
    try:
        cli(prog_name="clazar-templates")
    except MissingExtraError as error:  # one line, and an exit status of its own (README)
        click.echo(f"Error: {error}", err=True)
        sys.exit(EXIT_MISSING_EXTRA)
