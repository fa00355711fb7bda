"""Typed, validated build options: one frozen dataclass per stack.

Each option is declared once, with the CloudFormation parameter it becomes, its label,
description and the accepted form. ``None`` leaves an option to deploy time (the template
gets a Parameter and, where resources depend on it, a Condition); any other value fixes it at
build time, and the template has no parameter for it. For existing-resource options ``""``
means "the stack creates it", exactly as the empty parameter does.

Bad values raise :class:`OptionError` (a ``ValueError``) when the options are built, naming
the field and the accepted form.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

__all__ = [
    "API_ENDPOINTS",
    "DEPLOY",
    "EVENTS_PARAMETER",
    "EVENTS_REFUSAL",
    "EVENTS_REGION",
    "PARTITIONS",
    "CosellOptions",
    "Kind",
    "MarketplaceOptions",
    "Option",
    "OptionError",
    "fixed_options",
    "option_fields",
    "parse_settings",
    "parse_value",
]

from ._version import __version__ as TEMPLATE_VERSION
from .errors import FieldError
from .patterns import VERSION, VERSION_FORM, fullmatch

PARTITIONS = (
    "aws",
    "aws-cn",
    "aws-eusc",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-us-gov",
)
"""Every partition botocore's partition data knows, ``aws`` first: written out, because the
core install (rendering only) has no botocore; tests/test_regions.py holds it equal to
botocore's ``partitions.json``."""
API_ENDPOINTS = {
    "production": "https://api.clazar.io/aws/cloudformation/v1/stack-reports",
    "development": "https://api.dev.clazar.io/aws/cloudformation/v1/stack-reports",
}


class OptionError(FieldError):
    """A build option (or a ``--set`` value) that is not of the accepted form."""

    field: str

    def __init__(self, field_name: str, value: object, form: str) -> None:
        shown = (
            repr(value)
            if len(repr(value)) <= 80
            else f"{repr(value)[:60]}... ({len(str(value))} characters)"
        )
        super().__init__(field_name, f"{shown} is not valid; expected {form}")
        self.value = value
        self.form = form


# --- Accepted forms ---------------------------------------------------------------------
# Patterns are written for both Python's `re` and CloudFormation's AllowedPattern (Java).

ACCOUNT_ID = r"^[0-9]{12}$"
EXTERNAL_ID = r"^[a-zA-Z0-9_+=,.@:/-]{2,1224}$"
ROLE_NAME = r"^[a-zA-Z0-9_+=,.@-]{1,64}$"
ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/([a-zA-Z0-9_+=,.@-]+/)*[a-zA-Z0-9_+=,.@-]{1,64}$"
TOPIC_ARN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[a-zA-Z0-9_-]{1,256}$"
BUCKET_NAME = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
ACCOUNT_UID = r"^[a-zA-Z0-9_.:-]{1,128}$"


def _optional(pattern: str) -> str:
    """The same pattern, also matching the empty string ("the stack creates it")."""
    return f"^$|{pattern}"


def version_problem(version: object) -> str | None:
    """Why ``version`` cannot be a template version (it is also an S3 key segment), or None."""
    return None if fullmatch(VERSION, version) else f"expected {VERSION_FORM}"


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid S3 general purpose bucket name, or None."""
    if not fullmatch(BUCKET_NAME, name):
        return "3-63 lowercase letters, digits, dots and hyphens, starting and ending alnum"
    if ".." in name or ".-" in name or "-." in name:
        return "no adjacent dots, and no dot next to a hyphen"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "not an IP address"
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"not starting with {prefix!r}"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            return f"not ending with {suffix!r}"
    return None


@dataclass(frozen=True)
class Kind:
    """The accepted form of one kind of option, shared by Python validation and parameters.

    ``pattern`` is the CloudFormation AllowedPattern; ``check`` adds what a pattern cannot
    express (and the partition an ARN must be in). ``allowed`` are AllowedValues. A number
    kind (``is_number``) is a whole number of at least ``min_value``: a ``Number`` parameter
    with ``MinValue``, an ``int`` in Python.
    """

    form: str
    pattern: str | None = None
    allowed: tuple[str, ...] = ()
    check: Callable[[str, str], str | None] | None = None
    is_flag: bool = False
    optional: bool = False  # "" is accepted and means "the stack creates it"
    min_length: int | None = None
    max_length: int | None = None
    is_number: bool = False
    min_value: int | None = None

    def problem(self, value: str, partition: str) -> str | None:
        """Why ``value`` is not of this kind (for ``partition``), or None when it is."""
        if self.optional and value == "":
            return None
        if self.check:  # a check says precisely what is wrong (it covers the pattern too)
            return self.check(value, partition)
        if self.pattern and not fullmatch(self.pattern, value):
            return self.form
        return None


def _arn_partition(value: str, partition: str) -> str | None:
    actual = value.split(":", 2)[1]
    if actual != partition:
        return f"an ARN in the {partition!r} partition being built for, not {actual!r}"
    return None


def _role_ref(value: str, partition: str) -> str | None:
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            return "an IAM role ARN (arn:<partition>:iam::<account>:role/<path/>name), not " + (
                f"an ARN of {parts[2]!r}" if len(parts) > 2 else "a malformed ARN"
            )
        if not fullmatch(ROLE_ARN, value):
            return "an IAM role ARN: arn:<partition>:iam::<12-digit account>:role/<path/>name"
        return _arn_partition(value, partition)
    if not fullmatch(ROLE_NAME, value):
        return "an IAM role name (1-64 characters of letters, digits and _+=,.@-) or role ARN"
    return None


def _topic_arn(value: str, partition: str) -> str | None:
    if not value.startswith("arn:") or value.count(":") < 5:
        return "an SNS topic ARN: arn:<partition>:sns:<region>:<12-digit account>:<name>"
    service = value.split(":")[2]
    if service != "sns":
        return f"an SNS topic ARN, not an ARN of {service!r}"
    if not fullmatch(TOPIC_ARN, value):
        return "an SNS topic ARN: arn:<partition>:sns:<region>:<12-digit account>:<name>"
    return _arn_partition(value, partition)


def _bucket(value: str, _partition: str) -> str | None:
    problem = bucket_name_problem(value)
    return f"an S3 bucket name: {problem}" if problem else None


FLAG = Kind(form="true or false", allowed=("true", "false"), is_flag=True)
ACCOUNT = Kind(form="a 12-digit AWS account ID", pattern=ACCOUNT_ID)
EXTERNAL = Kind(
    form="2-1224 characters of letters, digits and _+=,.@:/-",
    pattern=EXTERNAL_ID,
    min_length=2,
    max_length=1224,
)
ROLE = Kind(
    form="empty (CloudFormation names the role), or an IAM role name: 1-64 characters of "
    "letters, digits and _+=,.@-",
    pattern=_optional(ROLE_NAME),
    optional=True,
    max_length=64,
)
EXISTING_TOPIC = Kind(
    form="empty, or an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>)",
    pattern=_optional(TOPIC_ARN),
    check=_topic_arn,
    optional=True,
)
EXISTING_BUCKET = Kind(
    form="empty, or an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)",
    pattern=_optional(BUCKET_NAME),
    check=_bucket,
    optional=True,
    max_length=63,
)
EXISTING_ROLE = Kind(
    form="empty, or the name or ARN of an IAM role in this account",
    pattern=f"^$|{ROLE_NAME}|{ROLE_ARN}",
    check=_role_ref,
    optional=True,
)
ACCOUNT_REF = Kind(form="1-128 characters of letters, digits and _.:-", pattern=ACCOUNT_UID)
DAYS = Kind(form="a whole number of days, 0 or more", is_number=True, min_value=0)


@dataclass(frozen=True)
class Option:
    """How one option field becomes a CloudFormation parameter."""

    parameter: str
    kind: Kind
    label: str
    description: str
    group: str
    default: str | None = None  # the parameter's Default, when it has one
    condition: str | None = None
    """The deploy-time Condition resources depend on: for a flag, "the parameter is true";
    for an option whose empty value means "the stack makes it", "the parameter is empty";
    for a number, "the parameter is 0" (what 0 turns off)."""


def option(
    parameter: str,
    kind: Kind,
    label: str,
    description: str,
    group: str,
    *,
    default: str | None = None,
    condition: str | None = None,
) -> Any:
    """Declare an option field: ``None`` (deploy time) by default."""
    spec = Option(parameter, kind, label, description, group, default, condition)
    return field(default=None, metadata={"option": spec})


def option_fields(options: Any) -> Iterator[tuple[str, Option]]:
    """(field name, Option) for every option field of an options dataclass, in order."""
    for f in dataclasses.fields(options):
        spec = f.metadata.get("option")
        if spec is not None:
            yield f.name, spec


_BUILD_FIELDS = {
    "partition": "The AWS partition the template is for: one of " + ", ".join(PARTITIONS) + ".",
    "version": "The template version stamped in Metadata.Clazar (this package's by default).",
    "api_url": "The Clazar API endpoint the reporter calls (production by default).",
}


def _documented(options_class: type[Any]) -> type[Any]:
    """Append every field, its parameter, description and accepted form (from its
    :func:`option` spec) to ``options_class``'s docstring, so ``help()`` shows them."""
    lines = [
        "",
        "Fields (an option left None becomes a deploy-time Parameter; a value fixes it):",
        "",
    ]
    for f in dataclasses.fields(options_class):
        spec: Option | None = f.metadata.get("option")
        if spec is None:
            lines.append(f"{f.name}: {_BUILD_FIELDS.get(f.name, '')}".rstrip())
            continue
        kind = "True or False" if spec.kind.is_flag else f"a string: {spec.kind.form}"
        default = f" (its Default {spec.default!r})" if spec.default is not None else ""
        lines.append(f"{f.name} -> Parameter {spec.parameter}{default}: {spec.label}.")
        lines += textwrap.wrap(
            f"{spec.description} Accepted: {kind}.",
            width=88,
            initial_indent="    ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
    options_class.__doc__ = (options_class.__doc__ or "").rstrip() + "\n" + "\n".join(lines)
    return options_class


def _validate(options: Any) -> None:
    partition = options.partition
    if partition not in PARTITIONS:
        raise OptionError("partition", partition, "one of " + ", ".join(PARTITIONS))
    if version_problem(options.version):
        raise OptionError("version", options.version, VERSION_FORM)
    url = options.api_url
    if not fullmatch(r"https://[a-z0-9.-]+(:[0-9]+)?(/[\w./-]*)?", url):
        raise OptionError("api_url", url, "an https:// URL of the Clazar API endpoint")
    for name, spec in option_fields(options):
        value = getattr(options, name)
        if value is None:
            continue
        if spec.kind.is_flag:
            if not isinstance(value, bool):
                raise OptionError(name, value, "True, False or None (decide at deploy time)")
            continue
        if spec.kind.is_number:
            if _number_problem(spec.kind, value):
                raise OptionError(name, value, f"{spec.kind.form} (an int), or None")
            continue
        if not isinstance(value, str):
            raise OptionError(name, value, f"a string: {spec.kind.form}, or None")
        problem = spec.kind.problem(value, partition)
        if problem:
            raise OptionError(name, value, problem)


EVENTS_REGION = "us-east-1"
"""The one region where AWS publishes Marketplace and Partner Central events (default bus)."""
EVENTS_PARAMETER = "EnableEventBridge"
EVENTS_REFUSAL = (
    f"AWS publishes Marketplace and Partner Central events in {EVENTS_REGION} only: deploy "
    f"this stack in {EVENTS_REGION}, or set {EVENTS_PARAMETER}=false (SNS notifications only: "
    "no Concurrent Agreements)"
)
"""Why a stack asked for EventBridge outside EVENTS_REGION is refused (the template Rule's
AssertDescription, and what upgrade and stackset-plan say)."""


def _number_problem(kind: Kind, value: object) -> bool:
    """Whether ``value`` is not a whole number of ``kind`` (a bool is not a number here)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return True
    return kind.min_value is not None and value < kind.min_value


GROUP_VENDOR = "Clazar account"
GROUP_ROLE = "Clazar role"
GROUP_MARKETPLACE = "AWS Marketplace access"
GROUP_FEEDS = "CAS and SDDS data feeds"
GROUP_COSELL = "Co-Sell roles"
GROUP_EVENTS = "Event delivery"
GROUP_REPORT = "Connection to Clazar"


@dataclass(frozen=True)
class _Common:
    """Options both stacks share (the vendor, the reporter, build settings)."""

    clazar_account_id: str | None = option(
        "ClazarAccountId",
        ACCOUNT,
        "Clazar AWS account ID",
        "The 12-digit AWS account Clazar assumes the role from.",
        GROUP_VENDOR,
    )
    external_id: str | None = option(
        "ExternalId",
        EXTERNAL,
        "External ID",
        "The external ID shown in the Clazar platform. It is not a secret: it stops another "
        "Clazar customer from pointing Clazar at your role (the confused-deputy problem).",
        GROUP_VENDOR,
    )
    clazar_account_uid: str | None = option(
        "ClazarAccountUid",
        ACCOUNT_REF,
        "Clazar account UID",
        "Your account's identifier at Clazar, reported back with what this stack created.",
        GROUP_REPORT,
    )
    partition: str = "aws"
    version: str = TEMPLATE_VERSION
    api_url: str = API_ENDPOINTS["production"]

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)


@_documented
@dataclass(frozen=True)
class MarketplaceOptions(_Common):
    """Build options of the Role & Access (marketplace) stack."""

    role_name: str | None = option(
        "ClazarRoleName",
        ROLE,
        "Role name",
        "The name of the IAM role Clazar assumes. Empty lets CloudFormation name it uniquely "
        "(use that when deploying the stack to several regions of one account, e.g. a StackSet).",
        GROUP_ROLE,
        default="ClazarRole",
        condition="GeneratedRoleName",
    )
    allow_marketplace_access: bool | None = option(
        "AllowMarketplaceAccess",
        FLAG,
        "Allow AWS Marketplace management",
        "true lets Clazar manage your AWS Marketplace listings (aws-marketplace:*, "
        "aws-marketplace-management:*, vendor-insights:*), denying bank and tax details, "
        "buying, Private Marketplace, procurement and sharing. false creates no such policy.",
        GROUP_MARKETPLACE,
        default="false",
        condition="MarketplaceAccessAllowed",
    )
    allow_marketplace_fulfillment: bool | None = option(
        "AllowMarketplaceFulfillment",
        FLAG,
        "Allow SaaS fulfillment",
        "true lets Clazar resolve your SaaS customers, read their entitlements and agreements, "
        "meter their usage and read your catalog entities (read-only, plus BatchMeterUsage). "
        "false stops Clazar provisioning, metering and deprovisioning your SaaS customers, "
        "unless AllowMarketplaceAccess=true grants all of AWS Marketplace.",
        GROUP_MARKETPLACE,
        default="true",
        condition="MarketplaceFulfillmentAllowed",
    )
    enable_cas: bool | None = option(
        "EnableCas",
        FLAG,
        "Enable CAS (discontinued by AWS)",
        "true sets up the Commerce Analytics Service feed (bucket, topic, subscription, "
        "GenerateDataSet). AWS discontinued CAS on 2024-08-30; leave false unless told.",
        GROUP_FEEDS,
        default="false",
        condition="CasEnabled",
    )
    cas_sns_topic_arn: str | None = option(
        "CasSnsTopicArn",
        EXISTING_TOPIC,
        "Existing CAS SNS topic ARN",
        "The CAS topic you are already enrolled with; empty creates one.",
        GROUP_FEEDS,
        default="",
        condition="NewCasSnsTopic",
    )
    cas_bucket_name: str | None = option(
        "CasBucketName",
        EXISTING_BUCKET,
        "Existing CAS bucket name",
        "The CAS bucket you are already enrolled with; empty creates one.",
        GROUP_FEEDS,
        default="",
        condition="NewCasBucket",
    )
    sdds_sns_topic_arn: str | None = option(
        "SddsSnsTopicArn",
        EXISTING_TOPIC,
        "Existing SDDS SNS topic ARN",
        "The Seller Data Feed topic you are already enrolled with; empty creates one.",
        GROUP_FEEDS,
        default="",
        condition="NewSddsSnsTopic",
    )
    sdds_bucket_name: str | None = option(
        "SddsBucketName",
        EXISTING_BUCKET,
        "Existing SDDS bucket name",
        "The Seller Data Feed bucket you are already enrolled with; empty creates one.",
        GROUP_FEEDS,
        default="",
        condition="NewSddsBucket",
    )
    noncurrent_version_days: int | None = option(
        "NoncurrentVersionDays",
        DAYS,
        "Days to keep replaced feed files",
        "The CAS and SDDS buckets this stack creates are versioned: a feed file overwritten or "
        "deleted stays as a noncurrent version for this many days, then S3 deletes it (0 keeps "
        "every version forever, and its storage cost). Current files are never expired; "
        "incomplete uploads are aborted after 7 days.",
        GROUP_FEEDS,
        default="365",
        condition="KeepNoncurrentVersions",
    )

    enable_event_bridge: bool | None = option(
        EVENTS_PARAMETER,
        FLAG,
        "Deliver Marketplace events from EventBridge",
        "true (the default) adds EventBridge rules that deliver every AWS Marketplace agreement, "
        "catalog and seller event (aws.agreement-marketplace, aws.marketplacecatalog, "
        "aws.marketplace) to the queue; only these events carry the LicenseArn that Concurrent "
        "Agreements need. Each rule retries for 24 hours, then keeps the event in the dead-letter "
        "queue. Cost: EventBridge does not charge for AWS service events; each delivery is an SQS "
        "request. AWS publishes them in us-east-1 only: elsewhere the stack is refused unless "
        "this is false (SNS notifications only).",
        GROUP_EVENTS,
        default="true",
        condition="EventBridgeEnabled",
    )


@_documented
@dataclass(frozen=True)
class CosellOptions(_Common):
    """Build options of the Co-Sell (AWS Partner Central) stack."""

    existing_sandbox_role: str | None = option(
        "ExistingSandboxRole",
        EXISTING_ROLE,
        "Existing Sandbox role",
        "Name or ARN of a role you already use for the Partner Central Sandbox catalog; "
        "empty creates SandboxRole. The role must trust Clazar's account with the external ID, "
        "and no other ID, and let no wildcard principal assume it; any other principal it "
        "trusts is reported to Clazar.",
        GROUP_COSELL,
        default="",
        condition="CreateSandboxRole",
    )
    existing_production_role: str | None = option(
        "ExistingProductionRole",
        EXISTING_ROLE,
        "Existing Production role",
        "Name or ARN of a role you already use for the Partner Central AWS catalog; "
        "empty creates ProductionRole. The role must trust Clazar's account with the external ID, "
        "and no other ID, and let no wildcard principal assume it; any other principal it "
        "trusts is reported to Clazar.",
        GROUP_COSELL,
        default="",
        condition="CreateProductionRole",
    )
    create_snapshot_job_role: bool | None = option(
        "CreateSnapshotJobRole",
        FLAG,
        "Create the resource snapshot job role",
        "true creates ClazarResourceSnapshotJobRole, which Partner Central's resource snapshot "
        "jobs assume (AWS managed policy AWSPartnerCentralSellingResourceSnapshotJobExecution"
        "RolePolicy), and lets a created ProductionRole register it and pass it to that "
        "service only. false: partners on your multi-partner opportunities see stale snapshots.",
        GROUP_COSELL,
        default="true",
        condition="SnapshotJobRoleCreated",
    )
    enable_event_bridge: bool | None = option(
        EVENTS_PARAMETER,
        FLAG,
        "Deliver Partner Central events from EventBridge",
        "true (the default) adds a queue and an EventBridge rule that delivers AWS Partner "
        "Central events (aws.partnercentral-selling, aws.partnercentral-channel) to it, readable "
        "by the two co-sell roles; undelivered events are kept in its dead-letter queue. Cost: "
        "two SQS queues (billed per request); EventBridge does not charge for AWS service "
        "events. AWS publishes them in us-east-1 only: elsewhere the stack is refused unless "
        "this is false.",
        GROUP_EVENTS,
        default="true",
        condition="EventBridgeEnabled",
    )


DEPLOY = "deploy"
"""The ``--set`` value that leaves an option to deploy time (a Parameter)."""


def field_names(options_class: type[Any]) -> list[str]:
    """Every field an options class accepts, in declaration order."""
    return [f.name for f in dataclasses.fields(options_class)]


def fixed_options(options: Any) -> dict[str, Any]:
    """The options fixed at build time (field name -> value), ``version`` aside: every field
    whose value is not its default. ``type(options)(**fixed_options(options),
    version=options.version) == options``; ``{}`` for the all-deploy-time templates."""
    return {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(options)
        if f.name != "version" and getattr(options, f.name) != f.default
    }


def parse_value(options_class: type[Any], name: str, text: str) -> Any:
    """The Python value of ``--set name=text`` for ``options_class``.

    Booleans are ``true``/``false``; numbers are digits; ``deploy`` leaves an option to
    deploy time; ``api_url`` also takes an environment name (``production``, ``development``).
    """
    _check_name(name, text, field_names(options_class))
    return _parse(options_class, name, text)


def parse_settings(
    options_class: type[Any], settings: dict[str, str], every: list[type[Any]]
) -> dict[str, Any]:
    """The Python values of ``--set`` strings for ``options_class`` (see :func:`parse_value`).

    Names only other classes of ``every`` have are skipped (one ``--set`` serves several
    stacks); a name none of them has raises OptionError listing every accepted name.
    """
    known = sorted({n for options in every for n in field_names(options)})
    for name, text in settings.items():
        _check_name(name, text, known)
    mine = field_names(options_class)
    return {n: _parse(options_class, n, v) for n, v in settings.items() if n in mine}


def _check_name(name: str, text: str, names: list[str]) -> None:
    if name not in names:
        raise OptionError(name, text, "an option name, one of: " + ", ".join(names))


def _parse(options_class: type[Any], name: str, text: str) -> Any:
    spec = dict(option_fields(options_class)).get(name)
    if spec is None:
        return API_ENDPOINTS.get(text, text) if name == "api_url" else text
    if text == DEPLOY:
        return None
    if spec.kind.is_flag:
        if text not in ("true", "false"):
            raise OptionError(name, text, f"true, false or {DEPLOY}")
        return text == "true"
    if spec.kind.is_number:
        number = int(text) if fullmatch(r"[0-9]+", text) else None
        if number is None or _number_problem(spec.kind, number):
            raise OptionError(name, text, f"{spec.kind.form} or {DEPLOY}")
        return number
    return text
