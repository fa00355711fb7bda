"""Every combination of options, checked by tools we did not write (hypothesis-driven).

For each stack, hypothesis draws every option declared with ``option()`` (so an option added
later is covered without touching this file): fixed at build time or left to deploy time,
and its value (flags true/false, existing resources "" or a real one, values from the
option's own pattern). Each example is deployed twice into an empty moto account, as the
build-time template and as the deploy-time template with the same values as parameters,
and both must reach CREATE_COMPLETE with exactly the roles, role policies, queues, topics,
buckets, keys, rules and functions that a simple rule written here says the options imply.
A bounded number of build-time templates is also linted with cfn-lint (about 0.2-0.7 s
each); ``make sweep`` lints every combination.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from cfnlint.decode.decode import decode_str
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from clazar_templates import options as o
from clazar_templates.stacks import STACKS, Stack, cosell, marketplace
from clazar_templates.template.render import lint, to_yaml
from conftest import REGION, moto_cloudformation
from support import ACCOUNT, ALWAYS_POLICIES, DEPLOY_VALUES, deployed

STACK = "props"  # the test stack's name; moto names unnamed resources <stack>-<logical>-<id>
# About 0.4 s a deployment (two per example), 0.2-0.7 s a lint: this file takes ~50 s.
# No shrinking: each step would cost a deployment or a lint, and hypothesis allows it five
# minutes. A failure shows the example as drawn; `make sweep` names the simplest one.
QUICK = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
}
DEPLOYS = settings(max_examples=12, **QUICK)
LINTS = settings(max_examples=25, **QUICK)

# --- Strategies, derived from the option declarations ------------------------------------

ROLE_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-"


def _bucket_names() -> st.SearchStrategy[str]:
    return st.from_regex(r"[a-z0-9][a-z0-9.-]{1,30}[a-z0-9]", fullmatch=True).filter(
        lambda name: o.EXISTING_BUCKET.problem(name, "aws") is None
    )


def _topic_arns() -> st.SearchStrategy[str]:
    names = st.from_regex(r"[a-zA-Z0-9_-]{1,40}", fullmatch=True)
    regions = st.sampled_from([REGION, "us-west-2", "eu-west-1"])
    return st.builds(lambda r, n: f"arn:aws:sns:{r}:{ACCOUNT}:{n}", regions, names)


def _role_refs() -> st.SearchStrategy[str]:
    names = st.text(ROLE_NAME_CHARS, min_size=1, max_size=40)
    paths = st.lists(st.text(ROLE_NAME_CHARS, min_size=1, max_size=8), max_size=2)
    arns = st.builds(
        lambda p, n: f"arn:aws:iam::{ACCOUNT}:role/{''.join(x + '/' for x in p)}{n}", paths, names
    )
    return names | arns


# Existing-resource kinds: a real resource of this account (created in moto first).
EXISTING: dict[o.Kind, st.SearchStrategy[str]] = {
    o.EXISTING_TOPIC: _topic_arns(),
    o.EXISTING_BUCKET: _bucket_names(),
    o.EXISTING_ROLE: _role_refs(),
}
NAMED_BY_CLOUDFORMATION = {o.ROLE}  # "" lets CloudFormation name the role it creates


def values_of(spec: o.Option) -> st.SearchStrategy[Any]:
    """Valid values of one option (never None: deploy time is drawn separately)."""
    kind = spec.kind
    if kind.is_flag:
        return st.booleans()
    if kind.is_number:  # small numbers and 0, which turns something off
        return st.integers(min_value=kind.min_value or 0, max_value=3650)
    assert kind.pattern, f"{spec.parameter}: a value option needs a pattern"
    given = EXISTING.get(kind)
    if given is None:
        given = st.from_regex(kind.pattern, fullmatch=True).filter(
            lambda v: v != "" and kind.problem(v, "aws") is None
        )
    return st.just("") | given if kind.optional else given


@dataclass(frozen=True)
class Choice:
    """One option in one example: its effective value, and how it reaches the stack."""

    value: Any
    fixed: bool  # given to the builder (else a deploy-time parameter)
    passed: bool  # passed as a parameter when deploy-time (else its Default applies)


@dataclass(frozen=True)
class Example:
    stack: Stack
    choices: dict[str, Choice]

    @property
    def specs(self) -> dict[str, o.Option]:
        return dict(o.option_fields(self.stack.options))

    def value(self, name: str) -> Any:
        return self.choices[name].value

    def build_options(self) -> Any:
        fixed = {n: c.value for n, c in self.choices.items() if c.fixed}
        return self.stack.options(**fixed)

    def parameters(self, everything: bool) -> dict[str, str]:
        """Parameter values: of the deploy-time options, or (``everything``) of all."""
        return {
            self.specs[n].parameter: text(c.value)
            for n, c in self.choices.items()
            if (everything or not c.fixed) and (c.passed or c.fixed)
        }


def text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def default_value(spec: o.Option) -> Any:
    assert spec.default is not None
    if spec.kind.is_number:
        return int(spec.default)
    return spec.default == "true" if spec.kind.is_flag else spec.default


@st.composite
def examples(draw: st.DrawFn, short: str) -> Example:
    target = STACKS[short]
    choices = {}
    for name, spec in o.option_fields(target.options):
        fixed = draw(st.booleans())
        passed = fixed or spec.default is None or draw(st.booleans())
        value = draw(values_of(spec)) if passed else default_value(spec)
        choices[name] = Choice(value, fixed, passed)
    return Example(target, choices)


# --- What the options imply (the rule, written independently of the builders) -----------

REPORTER_POLICIES = frozenset({"ReporterPermissions"})
MANAGED = "arn:${AWS::Partition}:iam::aws:policy/"


@dataclass
class Inventory:
    """What an account holds, by name (moto's generated names reduced to logical IDs)."""

    roles: dict[str, frozenset[str]]  # role -> its inline policy names
    queues: set[str]
    topics: set[str]
    buckets: set[str]  # lower case, as S3 names are
    keys: set[str]
    rules: dict[str, frozenset[str]]  # rule -> event sources
    functions: set[str]

    def minus(self, before: Inventory) -> Inventory:
        """What was added since ``before``; anything there before must be unchanged."""
        for role, policies in before.roles.items():
            assert self.roles.get(role) == policies, f"{role} was changed"
        return Inventory(
            {k: v for k, v in self.roles.items() if k not in before.roles},
            self.queues - before.queues,
            self.topics - before.topics,
            self.buckets - before.buckets,
            self.keys - before.keys,
            {k: v for k, v in self.rules.items() if k not in before.rules},
            self.functions - before.functions,
        )


def expected_marketplace(e: Example) -> Inventory:
    cas = e.value("enable_cas")
    events = e.value("enable_event_bridge")  # moto's region is us-east-1, where rules exist
    topics = {f"clazar-sdds-{STACK}"} if e.value("sdds_sns_topic_arn") == "" else set()
    buckets = {"sddsbucket"} if e.value("sdds_bucket_name") == "" else set()
    if cas and e.value("cas_sns_topic_arn") == "":
        topics.add(f"clazar-cas-{STACK}")
    if cas and e.value("cas_bucket_name") == "":
        buckets.add("casbucket")
    policies = set(ALWAYS_POLICIES)
    if e.value("allow_marketplace_access"):
        policies.add("ClazarMarketplaceAccessPolicy")
    if e.value("allow_marketplace_fulfillment"):
        policies.add("ClazarMarketplaceFulfillmentPolicy")
    if cas:
        policies.add("ClazarGenerateCasPolicy")
    return Inventory(
        roles={
            e.value("role_name") or "ClazarRole": frozenset(policies),  # "": a generated name
            "ClazarReporterFunctionRole": REPORTER_POLICIES,
        },
        queues={"ClazarSqsQueue", "ClazarSqsDeadLetterQueue"},
        topics=topics,
        buckets=buckets,
        keys={"one key"} if topics or buckets else set(),
        rules=event_rules(marketplace.EVENT_RULES) if events else {},
        functions={"ClazarReporterFunction"},
    )


def event_rules(declared: dict[str, tuple[tuple[str, ...], str]]) -> dict[str, frozenset[str]]:
    """The rules a stack declares, by their event sources (read from the builder, so a source
    added there is expected here too)."""
    return {logical: frozenset(sources) for logical, (sources, _) in declared.items()}


COSELL_ROLES = {
    "SandboxRole": "existing_sandbox_role",
    "ProductionRole": "existing_production_role",
}


def expected_cosell(e: Example) -> Inventory:
    events = e.value("enable_event_bridge")
    roles = {r: frozenset({"StayInCatalog"}) for r, f in COSELL_ROLES.items() if e.value(f) == ""}
    if "ProductionRole" in roles:  # what AWS's managed policy lacks, on a role made here
        roles["ProductionRole"] |= {"BeyondManagedPolicy"}
    if e.value("create_snapshot_job_role"):
        roles["ClazarResourceSnapshotJobRole"] = frozenset()  # AWS's managed policy only
    return Inventory(
        roles={**roles, "ClazarCosellReporterFunctionRole": REPORTER_POLICIES},
        queues=(
            {"ClazarCosellEventsQueue", "ClazarCosellEventsDeadLetterQueue"} if events else set()
        ),
        topics=set(),
        buckets=set(),
        keys=set(),
        rules=event_rules(cosell.EVENT_RULES) if events else {},
        functions={"ClazarCosellReporterFunction"},
    )


def expected_managed_policies(e: Example) -> dict[str, list[str]]:
    """Role -> AWS managed policies (moto ignores ManagedPolicyArns: checked as data)."""
    if e.stack.short != "cosell":
        return {}
    managed = {
        "SandboxRole": "AWSPartnerCentralSandboxFullAccess",
        "ProductionRole": "AWSPartnerCentralOpportunityManagement",
    }
    found = {r: [MANAGED + managed[r]] for r, f in COSELL_ROLES.items() if e.value(f) == ""}
    if e.value("create_snapshot_job_role"):
        policy = "AWSPartnerCentralSellingResourceSnapshotJobExecutionRolePolicy"
        found["ClazarResourceSnapshotJobRole"] = [MANAGED + policy]
    return found


EXPECTED: dict[str, Callable[[Example], Inventory]] = {
    "marketplace": expected_marketplace,
    "cosell": expected_cosell,
}

# --- What moto holds ---------------------------------------------------------------------

GENERATED = re.compile(rf"{STACK}-([A-Za-z0-9]+)-[A-Z0-9]{{12}}", re.IGNORECASE)  # S3: lower


def logical(name: str) -> str:
    found = GENERATED.fullmatch(name)
    return found.group(1) if found else name


def inventory() -> Inventory:
    iam = boto3.client("iam")
    roles = {
        logical(r["RoleName"]): frozenset(
            iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"]
        )
        for r in iam.list_roles()["Roles"]
    }
    events = boto3.client("events")
    rules = {}
    for rule in events.list_rules()["Rules"]:
        pattern = json.loads(rule["EventPattern"])
        rules[rule["Name"]] = frozenset(pattern["source"])
    return Inventory(
        roles=roles,
        queues={
            logical(url.rsplit("/", 1)[1])
            for url in boto3.client("sqs").list_queues().get("QueueUrls", [])
        },
        topics={t["TopicArn"].split(":")[-1] for t in boto3.client("sns").list_topics()["Topics"]},
        buckets={logical(b["Name"]).lower() for b in boto3.client("s3").list_buckets()["Buckets"]},
        keys={k["KeyId"] for k in boto3.client("kms").list_keys()["Keys"]},
        rules=rules,
        functions={
            logical(f["FunctionName"]) for f in boto3.client("lambda").list_functions()["Functions"]
        },
    )


def same_up_to_names(actual: Inventory, expected: Inventory) -> None:
    """Compare, where generated names (keys, rules) can only be counted or described."""
    assert actual.roles == expected.roles
    assert actual.queues == expected.queues
    assert actual.topics == expected.topics
    assert actual.buckets == expected.buckets
    assert len(actual.keys) == len(expected.keys)
    assert sorted(actual.rules.values(), key=sorted) == sorted(expected.rules.values(), key=sorted)
    assert actual.functions == expected.functions


def trust(vendor: str, external_id: str) -> str:
    """A trust policy that the co-sell reporter accepts for a reused role."""
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{vendor}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def role_paths(e: Example) -> dict[str, set[str]]:
    """Existing role name -> the paths the example's ARNs give it ("/" if only named)."""
    paths: dict[str, set[str]] = {}
    for name, spec in e.specs.items():
        value = e.value(name)
        if spec.kind == o.EXISTING_ROLE and value:
            rest = value.split(":role/", 1)[1] if value.startswith("arn:") else value
            path, _, role = rest.rpartition("/")
            found = paths.setdefault(role, set())
            if value.startswith("arn:"):
                found.add(f"/{path}/" if path else "/")
    return {role: found or {"/"} for role, found in paths.items()}


def create_existing(e: Example) -> None:
    """Create in moto every topic, bucket and role the example says already exists."""
    for name, spec in e.specs.items():
        value = e.value(name)
        if value and spec.kind == o.EXISTING_TOPIC:
            _, _, _, region, _, topic = value.split(":")
            boto3.client("sns", region_name=region).create_topic(Name=topic)
        elif value and spec.kind == o.EXISTING_BUCKET:
            boto3.client("s3").create_bucket(Bucket=value)  # idempotent in us-east-1
    vendor, external_id = e.value("clazar_account_id"), e.value("external_id")
    for role, (path,) in role_paths(e).items():
        boto3.client("iam").create_role(
            RoleName=role, Path=path, AssumeRolePolicyDocument=trust(vendor, external_id)
        )


def role_arn(e: Example, logical_id: str) -> str:
    """The ARN Clazar must be told for a co-sell role: the reused one's, path included."""
    given = e.value(COSELL_ROLES[logical_id])
    if not given:
        names = [r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]]
        (given,) = [n for n in names if logical(n) == logical_id]
    return str(boto3.client("iam").get_role(RoleName=given.rpartition("/")[2])["Role"]["Arn"])


def deploy_and_check(e: Example, template: Any, parameters: dict[str, str]) -> None:
    expected = EXPECTED[e.stack.short](e)
    with moto_cloudformation() as cloudformation:
        create_existing(e)
        before = inventory()
        stack = cloudformation.create(template, STACK, **parameters)
        assert stack["StackStatus"] == "CREATE_COMPLETE", cloudformation.failed(stack["StackId"])
        same_up_to_names(inventory().minus(before), expected)
        if e.stack.short == "cosell":
            outputs = cloudformation.outputs(STACK)
            for logical_id in COSELL_ROLES:
                assert outputs[f"{logical_id}Arn"] == role_arn(e, logical_id)
    made = deployed(template, **parameters)["Resources"]
    managed = {
        k: [arn["Fn::Sub"] for arn in r["Properties"].get("ManagedPolicyArns", [])]
        for k, r in made.items()
        if r["Type"] == "AWS::IAM::Role"
    }
    assert {k: v for k, v in managed.items() if v} == expected_managed_policies(e)


def roundtrips(template: Any) -> None:
    decoded, errors = decode_str(to_yaml(template))
    assert not errors
    assert json.loads(json.dumps(decoded)) == json.loads(json.dumps(template.to_dict()))


# --- The properties ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("short", list(STACKS))
@DEPLOYS
@given(data=st.data())
def test_every_deployment_creates_exactly_what_the_options_imply(
    short: str, data: st.DataObject
) -> None:
    example = data.draw(examples(short))
    assume(all(len(paths) == 1 for paths in role_paths(example).values()))
    fixed = example.stack.build(example.build_options())
    roundtrips(fixed)
    deploy_and_check(example, fixed, {**DEPLOY_VALUES, **example.parameters(everything=False)})
    deploy_and_check(
        example, example.stack.build(), {**DEPLOY_VALUES, **example.parameters(everything=True)}
    )


@pytest.mark.slow
@pytest.mark.parametrize("short", list(STACKS))
@LINTS
@given(data=st.data())
def test_every_build_time_template_lints_clean(short: str, data: st.DataObject) -> None:
    template = STACKS[short].build(data.draw(examples(short)).build_options())
    assert findings(to_yaml(template)) == []


@functools.cache
def findings(text: str) -> list[str]:
    """cfn-lint's findings (examples often make the same template: it is linted once)."""
    return [str(f) for f in lint(text)]


def test_every_optional_kind_is_classified() -> None:
    """An option taking "" either names an existing resource (created in moto first, from
    EXISTING) or lets CloudFormation name what the stack creates; a new one must say which."""
    for target in STACKS.values():
        for name, spec in o.option_fields(target.options):
            if spec.kind.optional:
                assert spec.kind in EXISTING or spec.kind in NAMED_BY_CLOUDFORMATION, name
