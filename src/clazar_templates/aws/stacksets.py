"""One template, many accounts: a service-managed CloudFormation StackSet.

Sellers with AWS Organizations deploy a stack to every account of some organizational
units (OUs) at once, and to accounts that join those OUs later (auto-deployment), with
CloudFormation's own engine. :func:`stackset_plan` checks the request against the template
this package builds and returns the exact ``CreateStackSet``/``CreateStackInstances``
requests; :func:`apply_plan` sends them; :func:`stackset_status` reports every instance.

Run it from the organization's management account or a delegated administrator for
StackSets (``call_as="DELEGATED_ADMIN"``), after the one-time
``EnableAWSOrganizationsAccess``. boto3 is imported only when AWS is called.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..errors import FieldError
from ..options import EVENTS_PARAMETER, EVENTS_REGION
from ..patterns import STACK_NAME, fullmatch, region_partition, region_problem
from ..stacks import Stack, regional_options
from ..stacks import stack as find_stack
from ..template import render
from ..template.parameters import value_problem
from .errors import aws_errors, aws_message
from .publishing import DEFAULT_PREFIX, LATEST, template_key

__all__ = [
    "ApplyResult",
    "InstanceStatus",
    "StackSetError",
    "StackSetPlan",
    "apply_plan",
    "cloudformation_client",
    "secret_env_var",
    "stackset_options",
    "stackset_parameters",
    "stackset_plan",
    "stackset_status",
]

OU_ID = r"ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32}"
CALL_AS = ("SELF", "DELEGATED_ADMIN")
MASK = "****"
DONE = {"SUCCEEDED", "FAILED", "STOPPED"}
BAD = {"FAILED", "INOPERABLE", "CANCELLED", "FAILED_IMPORT"}
# IAM names are global to an account: each instance in another region would reuse them.
IAM_NAMES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}


class StackSetError(FieldError):
    """A StackSet request that cannot work; ``field`` names the input (``--region``...)."""

    field: str


@dataclass(frozen=True)
class StackSetPlan:
    """The two requests, exactly as boto3 takes them (NoEcho values masked when shown)."""

    stack_set_name: str
    create_stack_set: dict[str, Any]
    create_stack_instances: dict[str, Any]
    secrets: tuple[str, ...] = ()  # NoEcho parameters: never printed
    unset: tuple[str, ...] = ()  # NoEcho parameters still without a value
    more_stack_instances: tuple[dict[str, Any], ...] = ()  # regions with parameter overrides
    notes: tuple[str, ...] = ()  # what the plan decided for you (e.g. those overrides)

    @property
    def instance_requests(self) -> tuple[dict[str, Any], ...]:
        """Every CreateStackInstances request, in the order they are sent."""
        return (self.create_stack_instances, *self.more_stack_instances)

    def shown(self) -> dict[str, Any]:
        """Both requests with NoEcho values replaced, safe to print or log."""
        create = dict(self.create_stack_set)
        create["Parameters"] = [
            {**p, "ParameterValue": MASK} if p["ParameterKey"] in self.secrets else p
            for p in create.get("Parameters", [])
        ] + [
            {"ParameterKey": name, "ParameterValue": f"<set {secret_env_var(name)}>"}
            for name in self.unset
        ]
        if "TemplateBody" in create:
            create["TemplateBody"] = f"<{len(create['TemplateBody'])} bytes of YAML>"
        shown: dict[str, Any] = {
            "CreateStackSet": create,
            "CreateStackInstances": self.create_stack_instances,
        }
        if self.more_stack_instances:
            shown["MoreCreateStackInstances"] = list(self.more_stack_instances)
        if self.notes:
            shown["Notes"] = list(self.notes)
        return shown

    def to_json(self) -> str:
        return json.dumps(self.shown(), indent=2) + "\n"


@dataclass(frozen=True)
class ApplyResult:
    stack_set_id: str
    operation_id: str
    status: str  # the CreateStackInstances operation's status ("RUNNING" if not waited for)
    created: bool  # False when the stack set existed and only instances were added


@dataclass(frozen=True)
class InstanceStatus:
    """One stack instance: where it is and how it went."""

    account: str
    region: str
    status: str  # CURRENT, OUTDATED or INOPERABLE
    detailed_status: str  # PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, ...
    reason: str
    stack_id: str
    org_unit: str

    @property
    def failed(self) -> bool:
        return self.detailed_status in BAD or self.status == "INOPERABLE"


def secret_env_var(parameter: str) -> str:
    """The environment variable a NoEcho parameter is read from: ClazarSecretKey ->
    CLAZAR_SECRET_KEY (a value on the command line would land in shell history)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", parameter).upper()


# --- planning ---------------------------------------------------------------------------


def stackset_options(
    target: Stack,
    regions: Iterable[str],
    settings: Mapping[str, str] | None = None,
    *,
    options: Any = None,
) -> Any:
    """``target``'s build options (``options``, or those of ``--set``-style ``settings``) for
    a stack set in ``regions``, whose partition they decide: a stack set lives in one
    partition (regions of two are refused), settings without ``partition`` get theirs, and a
    partition of another is refused. StackSetError naming ``--regions`` or ``--set``."""
    where = _regions(regions)
    try:
        return regional_options(
            target, where[0], options=options, settings=settings, region_option="--regions"
        )
    except FieldError as error:
        raise StackSetError("--set", error.message) from None


def stackset_parameters(
    target: Stack,
    given: Mapping[str, str],
    *,
    options: Any = None,
    ask: Callable[[str], str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``given`` plus each NoEcho parameter of ``target`` (built with ``options``), read from
    the environment (:func:`secret_env_var`) or else, if given, from ``ask`` (a hidden
    prompt). StackSetError("--param") for a NoEcho parameter in ``given``: a value on the
    command line lands in shell history."""
    env = os.environ if environ is None else environ
    declared = target.build(options).to_dict().get("Parameters", {})
    secrets = [n for n, spec in declared.items() if spec.get("NoEcho")]
    for name in given:
        if name in secrets:
            raise StackSetError(
                "--param",
                f"{name} is NoEcho: a value on the command line lands in your shell history. "
                f"Set {secret_env_var(name)} in the environment, or leave it out and answer "
                "the hidden prompt of --apply.",
            )
    params = dict(given)
    for name in secrets:
        value = env.get(secret_env_var(name))
        if value is None and ask is not None:
            value = ask(name)
        if value is not None:
            params[name] = value
    return params


def stackset_plan(
    stack: Stack | str,
    *,
    org_units: Iterable[str],
    regions: Iterable[str],
    params: Mapping[str, str] | None = None,
    stack_set_name: str | None = None,
    failure_tolerance: int | str = 0,
    max_concurrent: int | str = 1,
    region_concurrency: str = "SEQUENTIAL",
    bucket: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    version: str = __version__,
    bucket_region: str = "us-east-1",
    template_url: str | None = None,
    template_body: str | None = None,
    options: Any = None,
    call_as: str = "SELF",
    retain_stacks_on_account_removal: bool = False,
) -> StackSetPlan:
    """The requests that deploy ``stack`` to every account of ``org_units`` in ``regions``.

    Given a ``bucket``, the stack set takes the template published there (``prefix``,
    ``version``, in ``bucket_region``: the layout ``publish`` writes) by its ``TemplateURL``;
    ``template_url`` says the same as one URL of that layout (checked the same way);
    otherwise the body built with ``options`` (or ``template_body``), which CloudFormation
    takes up to 51,200 bytes. ``failure_tolerance`` and ``max_concurrent`` are account
    counts per region or percentages (``"10%"``). ``params`` are checked against the
    template sent (names, AllowedValues, AllowedPattern, lengths): this package's build for
    its own version, else the published text, read from S3. A NoEcho parameter left out is
    listed in ``unset`` and must be given before :func:`apply_plan`. Raises
    :class:`StackSetError` naming the bad input.
    """
    from ..template.render import to_yaml

    target = find_stack(stack) if isinstance(stack, str) else stack
    where = _regions(regions)
    options = stackset_options(target, where, options=options)  # the regions' partition
    if template_url is not None:
        bucket, bucket_region, prefix, version = _url_location(target, template_url, bucket)
    if bucket is None:
        built = target.build(options)
        template = built.to_dict()
        source = _template_body(template_body or to_yaml(built))
    else:
        template, url = _published(target, options, bucket, prefix, version, bucket_region)
        source = {"TemplateURL": url}
    name = stack_set_name or target.name
    if not fullmatch(STACK_NAME, name):  # stack sets are named like stacks
        raise StackSetError(
            "--name", f"{name!r} is not a stack set name: a letter, then letters, digits and -"
        )
    ous = _org_units(org_units)
    given = dict(params or {})
    secrets, unset = _check_parameters(template, given)
    groups, notes = _region_groups(template, where, given)
    overrides = {r: dict(o) for regions, o in groups for r in regions}
    _check_rules(template, given, secrets, overrides)
    _check_named_iam(template, given, secrets, where, overrides)
    if call_as not in CALL_AS:
        raise StackSetError("--call-as", f"{call_as!r}; expected one of {', '.join(CALL_AS)}")
    preferences = {
        "RegionConcurrencyType": _choice(
            region_concurrency, ("SEQUENTIAL", "PARALLEL"), "--region-concurrency"
        ),
        **_amount("FailureTolerance", failure_tolerance, "--failure-tolerance", 0),
        **_amount("MaxConcurrent", max_concurrent, "--max-concurrent", 1),
    }
    create_set = {
        "StackSetName": name,
        "Description": str(template.get("Description", name))[:1024],
        **source,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "PermissionModel": "SERVICE_MANAGED",
        "AutoDeployment": {
            "Enabled": True,
            "RetainStacksOnAccountRemoval": retain_stacks_on_account_removal,
        },
        "ManagedExecution": {"Active": True},  # queue conflicting operations, don't refuse
        "CallAs": call_as,
    }
    first, *more = [
        {
            "StackSetName": name,
            "DeploymentTargets": {"OrganizationalUnitIds": ous},
            "Regions": regions,
            **(
                {
                    "ParameterOverrides": [
                        {"ParameterKey": k, "ParameterValue": v} for k, v in override.items()
                    ]
                }
                if override
                else {}
            ),
            "OperationPreferences": preferences,
            "CallAs": call_as,
        }
        for regions, override in groups
    ]
    return StackSetPlan(name, create_set, first, secrets, unset, tuple(more), notes)


def _region_groups(
    template: Mapping[str, Any], regions: list[str], given: Mapping[str, str]
) -> tuple[list[tuple[list[str], dict[str, str]]], tuple[str, ...]]:
    """The regions by the parameter overrides their instances need, and why: AWS publishes
    Marketplace and Partner Central events in EVENTS_REGION only, and the template refuses
    EventBridge anywhere else, so instances elsewhere get EnableEventBridge=false (unless
    the stack set's own value is already false)."""
    others = [r for r in regions if r != EVENTS_REGION]
    declared = EVENTS_PARAMETER in template.get("Parameters", {})
    if not declared or not others or given.get(EVENTS_PARAMETER) == "false":
        return [(regions, {})], ()
    groups: list[tuple[list[str], dict[str, str]]] = (
        [([EVENTS_REGION], {})] if EVENTS_REGION in regions else []
    )
    groups.append((others, {EVENTS_PARAMETER: "false"}))
    note = (
        f"{EVENTS_PARAMETER}=false for the instances in {', '.join(others)} (a parameter "
        f"override): AWS publishes Marketplace and Partner Central events in {EVENTS_REGION} "
        "only, so they get SNS notifications only (no Concurrent Agreements)"
    )
    return groups, (note,)


def _check_rules(
    template: Mapping[str, Any],
    given: Mapping[str, str],
    secrets: tuple[str, ...],
    overrides: Mapping[str, Mapping[str, str]],
) -> None:
    """Refuse a plan whose template's Rules would refuse an instance (CloudFormation checks
    them only when each instance is created, in each account)."""
    from ..template.resolve import refusals

    values = dict.fromkeys(secrets, "placeholder-value") | dict(given)
    for region, override in overrides.items():
        refused = refusals(template, values | dict(override), region=region)
        if refused:
            raise StackSetError("--regions", f"{region}: refused: {'; '.join(refused)}")


def _org_units(values: Iterable[str]) -> list[str]:
    ous = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not ous:
        raise StackSetError("--org-unit", "give at least one organizational unit or root ID")
    for ou in ous:
        if not fullmatch(OU_ID, ou):
            raise StackSetError(
                "--org-unit",
                f"{ou!r} is not an organizational unit ID (ou-xxxx-xxxxxxxx: 'ou-', 4-32 "
                "lowercase letters or digits, '-', 8-32 more) or a root ID (r-xxxx)",
            )
    return ous


def _regions(values: Iterable[str]) -> list[str]:
    """The regions (repeats dropped), each one botocore's partition data knows, all of one
    partition: a stack set lives in one."""
    regions = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not regions:
        raise StackSetError("--regions", "give at least one region")
    for region in regions:
        if region_problem(region):
            raise StackSetError("--regions", str(region_problem(region)))
    partitions = list(dict.fromkeys(region_partition(r) for r in regions))
    if len(partitions) > 1:
        raise StackSetError(
            "--regions",
            f"regions of one partition only (a stack set lives in one); these span "
            f"{', '.join(partitions)}",
        )
    return regions


def _check_parameters(
    template: Mapping[str, Any], given: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    declared = template.get("Parameters", {})
    for name, value in given.items():
        spec = declared.get(name)
        if spec is None:
            raise StackSetError(
                f"--param {name}",
                "the template has no such parameter; it has " + ", ".join(declared),
            )
        problem = value_problem(spec, value)
        if problem:
            raise StackSetError(f"--param {name}", f"{value!r} is not valid: {problem}")
    secrets = tuple(n for n, s in declared.items() if s.get("NoEcho"))
    missing = [n for n, s in declared.items() if "Default" not in s and n not in given]
    required = [n for n in missing if n not in secrets]
    if required:
        raise StackSetError(
            f"--param {required[0]}",
            "required (no default); give --param " + " --param ".join(f"{n}=..." for n in required),
        )
    return secrets, tuple(n for n in missing if n in secrets)


def _check_named_iam(
    template: Mapping[str, Any],
    given: Mapping[str, str],
    secrets: tuple[str, ...],
    regions: list[str],
    overrides: Mapping[str, Mapping[str, str]],
) -> None:
    """Refuse a multi-region plan whose instances in one account would reuse an IAM name."""
    from ..template.resolve import resolve

    if len(regions) < 2:
        return
    values = dict.fromkeys(secrets, "placeholder-value") | dict(given)
    for region in regions:  # Conditions may depend on the region
        deployed = resolve(template, values | dict(overrides.get(region, {})), region=region)
        for logical, resource in deployed["Resources"].items():
            prop = IAM_NAMES.get(resource.get("Type", ""))
            name = resource.get("Properties", {}).get(prop) if prop else None
            if not isinstance(name, str):
                continue  # no name (CloudFormation makes one up) or one built from the region
            raw = template["Resources"][logical]["Properties"][prop]
            source = raw.get("Ref") if isinstance(raw, dict) else None
            raise StackSetError(
                f"--param {source}" if source else f"--regions ({logical})",
                f"{logical} is named {name!r}, and IAM names are global to an account, so the "
                f"instances of one account in {' and '.join(regions)} would collide; deploy "
                "this stack set to one region",
            )


def _template_body(body: str) -> dict[str, str]:
    size = render.body_too_big(body)
    if size is not None:
        raise StackSetError(
            "--bucket",
            f"the template is {size:,} bytes, over CloudFormation's "
            f"{render.TEMPLATE_BODY_LIMIT:,}-byte TemplateBody limit; publish it and pass "
            "--bucket (with --prefix and --version) to send its TemplateURL instead",
        )
    return {"TemplateBody": body}


def _url_location(target: Stack, url: str, bucket: str | None) -> tuple[str, str, str, str]:
    """(bucket, region, prefix, version) of ``url``, a template published for ``target``."""
    from .publishing import PublishError, parse_object_url

    if bucket is not None:
        raise StackSetError("--template-url", "give either --template-url or --bucket, not both")
    try:
        location = parse_object_url(url)
    except PublishError as error:
        raise StackSetError("--template-url", error.message) from None
    if not url.endswith(f"/{target.name}.yaml"):
        raise StackSetError(
            "--template-url", f"{url!r} is not the {target.name} template ({target.name}.yaml)"
        )
    return location


def _published(
    target: Stack, options: Any, bucket: str, prefix: str, version: str, region: str
) -> tuple[dict[str, Any], str]:
    """The template published as ``version`` in ``bucket`` (as data) and its URL.

    Published templates are built with every option left to deploy time, so build-time
    ``options`` cannot describe them. The template is this package's own build for its
    version (no call), else the published text.
    """
    from ..template.reading import load_template
    from .publishing import PublishError, check_location, object_url, read_published

    if options is not None and options != target.options(partition=options.partition):
        raise StackSetError(
            "--set",
            "published templates leave every option to deploy time; give these values as "
            "--param, or drop --bucket to send the template built with --set as its body",
        )
    if region_problem(region):
        raise StackSetError("--bucket-region", str(region_problem(region)))
    if region_partition(region) != options.partition:  # partitions share no S3
        raise StackSetError(
            "--bucket-region",
            f"{region} is in {region_partition(region)}, the instances' regions in "
            f"{options.partition}: CloudFormation reads the template from a bucket of its own "
            "partition; give the --bucket and --bucket-region it is published in there",
        )
    try:
        check_location(bucket, prefix, None if version == LATEST else version)
    except PublishError as error:
        raise StackSetError(f"--{error.field}", str(error)) from None
    url = object_url(bucket, region, template_key(prefix, version, target.name))
    if version == __version__:
        return target.build().to_dict(), url
    unreadable: tuple[type[Exception], ...] = (*aws_errors(), ValueError)  # not a template
    try:
        text = read_published(bucket, prefix, version, target.name, client=_s3(region))
        return load_template(text), url
    except unreadable as error:
        raise StackSetError(
            "--version",
            f"cannot read {url} to check the parameters against it ({aws_message(error)}); "
            "pass the --bucket, --prefix and --bucket-region it is published with",
        ) from None


def _amount(prefix: str, value: int | str, field: str, minimum: int) -> dict[str, int]:
    """``{prefix}Count`` from 3, or ``{prefix}Percentage`` from "25%"."""
    text = str(value).strip()
    percent = text.endswith("%")
    number = text.rstrip("%").strip()
    top = 100 if percent else sys.maxsize
    if not fullmatch("[0-9]+", number) or not minimum <= int(number) <= top:  # ASCII only
        form = f"a whole number >= {minimum}, or a percentage from {minimum}% to 100%"
        raise StackSetError(field, f"{value!r}; expected {form}")
    return {f"{prefix}{'Percentage' if percent else 'Count'}": int(number)}


def _choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value.upper() not in allowed:
        raise StackSetError(field, f"{value!r}; expected one of {', '.join(allowed)}")
    return value.upper()


# --- applying ---------------------------------------------------------------------------


def apply_plan(
    plan: StackSetPlan,
    client: Any = None,
    progress: Callable[[str], None] | None = None,
    *,
    wait: bool = True,
    poll_seconds: float = 15.0,
    timeout_seconds: float = 3600.0,
) -> ApplyResult:
    """Create the stack set (or reuse one of that name) and its instances.

    An existing stack set keeps its template and parameters: only instances are added.
    With ``wait``, polls the instances operation until it ends.
    """
    say = progress or (lambda _message: None)
    if plan.unset:
        name = plan.unset[0]
        raise StackSetError(
            f"--param {name}", f"NoEcho parameter without a value; set {secret_env_var(name)}"
        )
    cfn = client or cloudformation_client()
    call_as = plan.create_stack_set["CallAs"]
    try:
        set_id = cfn.create_stack_set(**plan.create_stack_set)["StackSetId"]
        created = True
        say(f"created stack set {plan.stack_set_name} ({set_id})")
    except cfn.exceptions.NameAlreadyExistsException:
        set_id = cfn.describe_stack_set(StackSetName=plan.stack_set_name, CallAs=call_as)[
            "StackSet"
        ]["StackSetId"]
        created = False
        say(
            f"stack set {plan.stack_set_name} exists; adding instances only (its template and "
            "parameters are left as they are)"
        )
    deadline = time.monotonic() + timeout_seconds
    for targets in plan.instance_requests:  # the next waits for the one before (with wait)
        operation = cfn.create_stack_instances(**targets)["OperationId"]
        overrides = targets.get("ParameterOverrides", [])
        say(
            f"adding instances in {', '.join(targets['Regions'])} for "
            f"{', '.join(targets['DeploymentTargets']['OrganizationalUnitIds'])}"
            + "".join(f", {o['ParameterKey']}={o['ParameterValue']}" for o in overrides)
            + f": operation {operation}"
        )
        status = "RUNNING"
        while wait:
            status = cfn.describe_stack_set_operation(
                StackSetName=plan.stack_set_name, OperationId=operation, CallAs=call_as
            )["StackSetOperation"]["Status"]
            say(f"operation {operation}: {status}")
            if status in DONE or time.monotonic() > deadline:
                break
            time.sleep(poll_seconds)
        if wait and status != "SUCCEEDED":
            break
    return ApplyResult(set_id, operation, status, created)


def cloudformation_client(region: str | None = None) -> Any:
    """A CloudFormation client in ``region`` (default: your AWS configuration's)."""
    import boto3

    return boto3.client("cloudformation", region_name=region)


def _s3(region: str) -> Any:
    import boto3

    return boto3.client("s3", region_name=region)


# --- status -----------------------------------------------------------------------------


def stackset_status(
    name: str, client: Any = None, *, call_as: str = "SELF"
) -> list[InstanceStatus]:
    """Every instance of stack set ``name``: account, region, status and, if it failed, why."""
    cfn = client or cloudformation_client()
    found: list[InstanceStatus] = []
    reasons: dict[str, dict[tuple[str, str], str]] = {}
    pages = cfn.get_paginator("list_stack_instances").paginate(StackSetName=name, CallAs=call_as)
    for page in pages:
        for item in page.get("Summaries", []):
            account, region = item.get("Account", ""), item.get("Region", "")
            detailed = item.get("StackInstanceStatus", {}).get("DetailedStatus", "")
            reason = item.get("StatusReason", "")
            operation = item.get("LastOperationId")
            if not reason and detailed in BAD and operation:
                if operation not in reasons:
                    reasons[operation] = _operation_reasons(cfn, name, operation, call_as)
                reason = reasons[operation].get((account, region), "")
            found.append(
                InstanceStatus(
                    account,
                    region,
                    item.get("Status", ""),
                    detailed,
                    reason,
                    item.get("StackId", ""),
                    item.get("OrganizationalUnitId", ""),
                )
            )
    return sorted(found, key=lambda i: (i.account, i.region))


def _operation_reasons(
    cfn: Any, name: str, operation: str, call_as: str
) -> dict[tuple[str, str], str]:
    pages = cfn.get_paginator("list_stack_set_operation_results").paginate(
        StackSetName=name, OperationId=operation, CallAs=call_as
    )
    return {
        (r.get("Account", ""), r.get("Region", "")): r.get("StatusReason", "")
        for page in pages
        for r in page.get("Summaries", [])
    }
