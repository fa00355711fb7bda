"""The deployer's policy (``deployer-policy``) against what CloudFormation will ask of it.

Independent of the library's scoping: the templates (committed, and built with a spread of
``--set`` variants) are made concrete by ``iam_oracle`` under every scenario of their
Conditions; for every resource created, every handler permission of its type (cfn-lint's
resource schemas) is turned into a request on the ARN it acts on (AWS's IAM reference says
which ARN formats an action takes) and judged by a matcher of this file's own (IAM wildcards,
actions case-insensitive). The policy must allow all of them but the documented exclusions,
and every action and resource it names must serve at least one of them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.decode import decode_str
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError
from click.testing import CliRunner

import iam_oracle
from clazar_templates.cli import cli
from clazar_templates.options import EVENTS_REGION
from clazar_templates.review.deployer import DeployerError, build_deployer_policy, deployer_policy
from clazar_templates.review.deployer.rules import EXCLUSIONS
from clazar_templates.review.docs import DEPLOYER_DOC, generated_files
from clazar_templates.stacks import STACKS, options_for
from clazar_templates.template.render import lint, to_yaml
from clazar_templates.template.resolve import refusals
from clazar_templates.template.schemas import resource_schema
from iam_oracle import (
    PARTITIONS,
    SELLER,
    Example,
    examples,
    expand,
    parameter_values,
    reaches,
)

ROOT = Path(__file__).resolve().parents[1]
STACK = "mystack"
BUCKET = "clazar-templates"
OTHER = "444455556666"  # an account the CAS topic may live in, neither the seller's nor Clazar's
HANDLERS = ("create", "read", "update", "delete")


# (stack, --set settings, partition); {} is the deploy-time template that is committed.
VARIANTS = [
    ("marketplace", {}, "aws"),
    ("cosell", {}, "aws"),
    ("marketplace", {"enable_cas": "false"}, "aws"),
    ("marketplace", {"enable_cas": "false", "sdds_bucket_name": "seller-sdds-bucket"}, "aws"),
    (
        "marketplace",
        {
            "enable_cas": "true",
            "allow_marketplace_access": "true",
            "enable_event_bridge": "true",
            "role_name": "",
            "cas_sns_topic_arn": "",
            "sdds_sns_topic_arn": "",
        },
        "aws",
    ),
    (
        "marketplace",
        {
            "enable_cas": "true",
            "role_name": "SellerRole",
            "cas_sns_topic_arn": f"arn:aws-us-gov:sns:us-gov-east-1:{OTHER}:seller-cas",
            "sdds_bucket_name": "seller-sdds-bucket",
            "partition": "aws-us-gov",
        },
        "aws-us-gov",
    ),
    ("cosell", {"enable_event_bridge": "false", "existing_sandbox_role": "team-sandbox"}, "aws"),
    ("cosell", {"enable_event_bridge": "true", "existing_production_role": ""}, "aws"),
]
IDS = [f"{s}:{','.join(f'{k}={v}' for k, v in o.items()) or 'committed'}" for s, o, _ in VARIANTS]

# Handler permissions the library leaves out, by resource type: this file's own list of
# features no template uses (checked below by the "premises" test) and non-IAM names.
EXPECTED_EXCLUDED = {
    "AWS::IAM::Policy": {
        "iam:GetUserPolicy",
        "iam:PutUserPolicy",
        "iam:DeleteUserPolicy",
        "iam:GetGroupPolicy",
        "iam:PutGroupPolicy",
        "iam:DeleteGroupPolicy",
    },
    "AWS::S3::Bucket": {
        "iam:PassRole",
        "s3:CreateBucketMetadataTableConfiguration",
        "s3:GetBucketMetadataTableConfiguration",
        "s3:DeleteBucketMetadataTableConfiguration",
        "s3:UpdateBucketMetadataJournalTableConfiguration",
        "s3:UpdateBucketMetadataInventoryTableConfiguration",
        "s3:UpdateBucketMetadataAnnotationTableConfiguration",
        "s3tables:CreateNamespace",
        "s3tables:CreateTable",
        "s3tables:CreateTableBucket",
        "s3tables:GetTable",
        "s3tables:PutTableBucketPolicy",
        "s3tables:PutTableEncryption",
        "s3tables:PutTablePolicy",
        "s3tables:GetTableMetadataLocation",
        "s3tables:UpdateTableMetadataLocation",
        # not IAM actions
        "s3:PutBucketReplication",
        "s3:PutObjectLockConfiguration",
        "s3:DeleteBucketAnalyticsConfiguration",
        "s3:DeleteBucketCors",
        "s3:DeleteBucketMetricsConfiguration",
        "s3:DeleteBucketEncryption",
        "s3:DeleteBucketLifecycle",
        "s3:DeleteBucketReplication",
    },
    "AWS::SNS::Topic": {"iam:GetRole", "iam:PassRole", "sns:Subscribe", "sns:Unsubscribe"},
    "AWS::SNS::Subscription": {"iam:GetRole", "iam:PassRole"},
    "AWS::Events::Rule": {"iam:PassRole"},
    "AWS::Logs::LogGroup": {
        "s3:REST.PUT.OBJECT",
        "logs:CreateLogDelivery",
        "firehose:TagDeliveryStream",
        "logs:PutResourcePolicy",
        "logs:DeleteResourcePolicy",
        "logs:PutIndexPolicy",
        "logs:DeleteIndexPolicy",
    },
    "AWS::Lambda::Function": {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
        "ec2:DescribeNetworkInterfaces",
        "elasticfilesystem:DescribeMountTargets",
        "s3files:ListMountTargets",
        "kms:CreateGrant",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "lambda:GetLayerVersion",
        "lambda:GetCodeSigningConfig",
        "lambda:PutFunctionCodeSigningConfig",
        "lambda:PassCapacityProvider",
        "lambda:AssociateRuntimeAlias",
    },
}


# === An IAM matcher of this test's own =====================================================


def glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters (``/`` and ``:`` too), ``?`` one."""
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


@functools.cache
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(rx, re.IGNORECASE if ignore_case else 0)


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            if key not in context:
                return False
            if operator == "StringEquals":
                ok = context[key] in listed(wanted)
            elif operator in ("StringLike", "ArnEquals", "ArnLike"):  # ARN operators glob too
                ok = any(glob(w, context[key]) for w in listed(wanted))
            else:
                raise AssertionError(f"the test knows no {operator}")
            if not ok:
                return False
    return True


def allowing(
    document: dict[str, Any], action: str, resource: str, context: dict[str, str]
) -> list[str]:
    """The Sids of the statements that allow ``action`` on ``resource``."""
    return [
        st["Sid"]
        for st in document["Statement"]
        if st["Effect"] == "Allow"
        and any(glob(a, action, ignore_case=True) for a in listed(st["Action"]))
        and any(glob(r, resource) for r in listed(st["Resource"]))
        and condition_holds(st.get("Condition", {}), context)
    ]


def test_the_matcher_follows_iam_wildcards() -> None:
    doc = {
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b-*"},
            {"Sid": "B", "Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*"},
        ]
    }
    assert allowing(doc, "S3:getobject", "arn:aws:s3:::b-1/key/x", {}) == ["A"]
    assert not allowing(doc, "s3:PutObject", "arn:aws:s3:::b-1", {})
    assert not allowing(doc, "s3:GetObject", "arn:aws:s3:::c-1", {})
    assert allowing(doc, "kms:createkey", "*", {}) == ["B"]
    assert not glob("arn:aws:s3:::b-?", "arn:aws:s3:::b-12")


# === Requests: what CloudFormation asks IAM, per resource and handler permission ==========


def handler_actions(resource_type: str, handlers: tuple[str, ...] = HANDLERS) -> set[str]:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    return {
        action
        for handler in handlers
        for action in schema.get("handlers", {}).get(handler, {}).get("permissions", [])
    }


def not_needed(resource: dict[str, Any], action: str) -> bool:
    """This file's own reading of what one resource never asks for: a retained resource
    (DeletionPolicy and UpdateReplacePolicy Retain) never runs its delete handler, a role
    without ManagedPolicyArns attaches nothing, one without PermissionsBoundary sets none."""
    kind, props = resource["Type"], resource.get("Properties", {})
    retained = resource.get("DeletionPolicy") == resource.get("UpdateReplacePolicy") == "Retain"
    if retained and action not in handler_actions(kind, ("create", "read", "update")):
        return True
    if kind == "AWS::IAM::Role":
        boundary = ("iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary")
        return (action == "iam:AttachRolePolicy" and "ManagedPolicyArns" not in props) or (
            action in boundary and "PermissionsBoundary" not in props
        )
    return False


def queue_arn(url: str, partition: str) -> str:
    region, account, name = re.fullmatch(
        r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com/(\d{12})/(.+)", url
    ).groups()  # type: ignore[union-attr]
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


def candidates(example: Any, logical: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The ARNs a resource's handlers act on (its own and the ones it attaches to), and the
    request context per action where a condition key matters."""
    resource = example.template["Resources"][logical]
    kind = resource["Type"]
    props = example.value(resource.get("Properties", {}))
    p, r = example.partition, example.region
    context: dict[str, dict[str, str]] = {}
    if kind == "AWS::IAM::Policy":
        arns = [f"arn:{p}:iam::{SELLER}:role/{n}" for n in props["Roles"]]
    elif kind == "AWS::SQS::QueuePolicy":
        arns = [queue_arn(u, p) for u in props["Queues"]]
    elif kind == "AWS::SNS::TopicPolicy":
        arns = list(props["Topics"])
    elif kind == "AWS::S3::BucketPolicy":
        arns = [f"arn:{p}:s3:::{props['Bucket']}"]
    elif kind == "AWS::KMS::Alias":
        key = props["TargetKeyId"]
        key = key if key.startswith("arn:") else f"arn:{p}:kms:{r}:{SELLER}:key/{key}"
        arns = [f"arn:{p}:kms:{r}:{SELLER}:{props['AliasName']}", key]
    elif kind == "AWS::SNS::Subscription":
        arns = [props["TopicArn"]]
        context["sns:Subscribe"] = {
            "sns:Protocol": props["Protocol"],
            "sns:Endpoint": props["Endpoint"],
        }
    elif kind == "AWS::Lambda::Function":
        arns = [example.get_att(logical, "Arn"), props["Role"]]
        context["iam:PassRole"] = {"iam:PassedToService": "lambda.amazonaws.com"}
    elif kind == "AWS::Logs::LogGroup":
        arn = example.get_att(logical, "Arn")
        arns = [arn, arn.removesuffix(":*")]
    elif kind == "AWS::S3::Bucket":
        arn = example.get_att(logical, "Arn")
        arns = [arn, f"{arn}/feeds/2026/report.csv"]
    else:
        arns = [example.get_att(logical, "Arn")]
    return arns, context


Request = tuple[str, str, tuple[tuple[str, str], ...]]  # action, resource, context


@functools.cache
def request_arns(action: str, arns: tuple[str, ...], partition: str) -> list[str]:
    """Which of ``arns`` a request for ``action`` names: those of an ARN format the action
    takes; ``"*"`` for an action without a resource type; ``"?"`` for no IAM action at all
    (nothing can allow it)."""
    privileges = expand(action)
    if not privileges:
        return ["?"]
    formats = privileges[0].arn_formats
    if not formats:
        return ["*"]
    return [a for a in arns if any(reaches(a, f, partition) for f in formats)]


def requests(example: Any) -> Iterator[tuple[str, str, Request]]:
    """(resource type, logical ID, request) for every handler permission of every resource
    the scenario creates, excluded ones too (the caller decides)."""
    p = example.partition
    for logical, resource in example.template["Resources"].items():
        condition = resource.get("Condition")
        if condition is not None and not example.conditions[condition]:
            continue
        kind = resource["Type"]
        if kind.startswith("Custom::"):
            token = example.value(resource["Properties"]["ServiceToken"])
            yield kind, logical, ("lambda:InvokeFunction", token, ())
            continue
        arns, context = candidates(example, logical)
        for action in sorted(handler_actions(kind)):
            if action in EXPECTED_EXCLUDED.get(kind, set()) or not_needed(resource, action):
                yield kind, logical, (action, "excluded", ())
                continue
            targets = request_arns(action, tuple(arns), p)
            assert targets, f"{logical}: no ARN of {kind} that {action} takes, among {arns}"
            contexts = [tuple(sorted(context.get(action, {}).items()))]
            if kind == "AWS::IAM::Role" and action == "iam:AttachRolePolicy":
                managed = example.value(resource["Properties"]["ManagedPolicyArns"])
                contexts = [(("iam:PolicyARN", arn),) for arn in managed]
            for target in targets:
                for extra in contexts:
                    yield kind, logical, (action, target, extra)


def own_requests(example: Any, template_name: str) -> list[Request]:
    """CloudFormation's own needs: this stack's ARN, the template in the publishing bucket."""
    p, r = example.partition, example.region
    stack = f"arn:{p}:cloudformation:{r}:{SELLER}:stack/{STACK}/1a2b3c4d-5e6f"
    actions = ["CreateStack", "UpdateStack", "DeleteStack", "DescribeStacks", "GetTemplate"]
    actions += ["CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DeleteChangeSet"]
    actions += ["ListChangeSets", "DescribeStackEvents", "DescribeStackResource"]
    actions += ["DescribeStackResources", "ListStackResources", "GetTemplateSummary"]
    actions += ["CancelUpdateStack", "ContinueUpdateRollback", "RollbackStack"]
    found: list[Request] = [(f"cloudformation:{a}", stack, ()) for a in actions]
    key = f"arn:{p}:s3:::{BUCKET}/templates/1.0.0/{template_name}.yaml"
    found.append(("s3:GetObject", key, ()))
    return found


# === One variant, judged ===================================================================


def concrete(document: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The policy with the built template's parameters filled in, as the seller would."""
    text = json.dumps(document)
    for name, value in parameters.items():
        text = text.replace("${" + name + "}", value)
    return dict(json.loads(text))


def placed(template: dict[str, Any], partition: str, regions: tuple[str, str]) -> list[Example]:
    """Every scenario of ``template``, in the region its Conditions pin (else ``regions[1]``)
    and, when none pins it, in EVENTS_REGION as well: the template's Rules accept EventBridge
    only there, so each policy is judged where its permissions can be used."""
    found = [
        e
        for _, e in examples(
            template, parameter_values(partition, regions[0], OTHER), partition, regions
        )
    ]
    pinned = "AWS::Region" in json.dumps(template.get("Conditions", {}))
    if pinned or EVENTS_REGION not in regions:
        return found
    return found + [
        dataclasses.replace(e, region=EVENTS_REGION) for e in found if e.region != EVENTS_REGION
    ]


def judge(short: str, settings: dict[str, str], partition: str) -> dict[str, Any]:
    target = STACKS[short]
    template_text = (
        (ROOT / "templates" / f"{target.name}.yaml").read_text(encoding="utf-8")
        if not settings
        else to_yaml(target.build(options_for(target, settings)))
    )
    if not settings:
        assert template_text == to_yaml(target.build()), "run `make templates`"
    template, errors = decode_str(template_text)
    assert not errors
    template = json.loads(json.dumps(template))
    regions = PARTITIONS[partition]
    policies: dict[str, Any] = {}  # region -> the policy for a stack there
    missing: set[str] = set()
    used: dict[str, set[tuple[str, str]]] = {}  # region -> (action, pattern) that served
    seen: set[tuple[str, Request]] = set()
    excluded: dict[str, set[tuple[str, str]]] = {}
    for example in placed(template, partition, regions):
        if example.region not in regions:
            continue  # a scenario asking for a region of another partition never happens
        if refusals(template, example.parameters, region=example.region):
            continue  # the template's Rules refuse it: CloudFormation creates nothing
        if example.region not in policies:
            # outside EVENTS_REGION the deployer policy is refused unless built without
            # EventBridge, as its message says (what the Rules let deploy there)
            deployable = (
                settings
                if example.region == EVENTS_REGION
                else {
                    **settings,
                    "enable_event_bridge": "false",
                }
            )
            policies[example.region] = build_deployer_policy(
                target,
                settings=deployable,
                stack_name=STACK,
                region=example.region,
                account=SELLER,
                template_bucket=BUCKET,
            )
            excluded[example.region] = set()
        document = concrete(policies[example.region].document(), example.parameters)
        pending = [(k, lg, rq) for k, lg, rq in requests(example)]
        pending += [("CloudFormation", "-", rq) for rq in own_requests(example, target.name)]
        for kind, logical, request in pending:
            action, resource, context = request
            if resource == "excluded":
                if action in EXPECTED_EXCLUDED.get(kind, set()) or all(
                    not_needed(r, action)
                    for r in template["Resources"].values()
                    if r["Type"] == kind
                ):
                    excluded[example.region].add((kind, action))
                continue
            if (example.region, request) in seen:
                continue
            seen.add((example.region, request))
            sids = allowing(document, action, resource, dict(context))
            if not sids:
                missing.add(f"{logical} ({kind}): {action} on {resource} {dict(context)}")
            for st in document["Statement"]:
                if st["Sid"] in sids:
                    for pattern in listed(st["Resource"]):
                        if glob(pattern, resource):
                            for a in listed(st["Action"]):
                                if glob(a, action, ignore_case=True):
                                    served = used.setdefault(f"{example.region} {st['Sid']}", set())
                                    served.add((a, pattern))
    assert policies, "the Rules refuse every scenario: nothing was judged"
    return {
        "policies": policies,
        "missing": missing,
        "used": used,
        "excluded": excluded,
        "template": template,
    }


@pytest.fixture(scope="module", params=VARIANTS, ids=IDS)
def judged(request: pytest.FixtureRequest) -> dict[str, Any]:
    short, settings, partition = request.param
    mp = pytest.MonkeyPatch()
    mp.setattr(iam_oracle, "STACK", STACK)  # the example stack's name in physical names
    try:
        result = judge(short, settings, partition)
    finally:
        mp.undo()
    result["short"], result["settings"], result["partition"] = short, settings, partition
    return result


def test_every_handler_permission_is_allowed(judged: dict[str, Any]) -> None:
    assert not judged["missing"], "\n".join(sorted(judged["missing"]))


def test_the_policy_grants_nothing_unused(judged: dict[str, Any]) -> None:
    """Every action and every resource of every statement serves some request above (a
    placeholder of a deploy-time parameter is filled with the example's value)."""
    for region, policy in judged["policies"].items():
        for st in policy.document()["Statement"]:
            served = judged["used"].get(f"{region} {st['Sid']}", set())
            for action in listed(st["Action"]):
                assert any(a == action for a, _ in served), f"{region} {st['Sid']}: {action}"
            # a resource with a placeholder is judged after the seller fills it in
            for resource in listed(st["Resource"]):
                filled = {r for _, r in served}
                assert resource in filled or "${" in resource, f"{st['Sid']}: {resource}"


def test_star_only_for_actions_without_a_resource_type(judged: dict[str, Any]) -> None:
    for policy in judged["policies"].values():
        for st in policy.document()["Statement"]:
            if "*" in listed(st["Resource"]):
                assert listed(st["Resource"]) == ["*"]
                for action in listed(st["Action"]):
                    assert all(not p.arn_formats for p in expand(action)), action


def test_every_action_exists_in_the_iam_reference(judged: dict[str, Any]) -> None:
    for policy in judged["policies"].values():
        for st in policy.document()["Statement"]:
            for action in listed(st["Action"]):
                assert expand(action), f"{action} is not in AWS's IAM reference"


def test_arns_are_this_stacks_and_in_its_partition(judged: dict[str, Any]) -> None:
    partition = judged["partition"]
    wide = {f"arn:{partition}:sns:*:*:*"}
    for region, policy in judged["policies"].items():
        wide.add(f"arn:{partition}:kms:{region}:{SELLER}:key/*")
        for st in policy.document()["Statement"]:
            for resource in listed(st["Resource"]):
                if resource == "*":
                    continue
                assert resource.startswith(f"arn:{partition}:"), resource
                named = STACK in resource.lower() or BUCKET in resource
                named = named or any(v in resource for v in judged["settings"].values() if v)
                parameters = set(re.findall(r"\$\{(\w+)\}", resource))
                named = named or (
                    parameters and parameters <= set(judged["template"]["Parameters"])
                )
                assert named or resource in wide, f"{st['Sid']}: {resource}"


def test_exclusions_are_exactly_the_listed_ones(judged: dict[str, Any]) -> None:
    for region, policy in judged["policies"].items():
        applied = {(kind, action) for kind, action, _ in policy.excluded}
        assert applied == judged["excluded"][region]
        resources = judged["template"]["Resources"].values()
        for kind, action, reason in policy.excluded:
            assert reason
            assert action in EXPECTED_EXCLUDED.get(kind, set()) or all(
                not_needed(r, action) for r in resources if r["Type"] == kind
            )


def test_schemas_are_read_as_cfn_lint_reads_them() -> None:
    """The deployer policy and upgrade read the resource schemas from cfn-lint's data files
    without importing it: every type the templates make reads exactly as cfn-lint's own schema
    manager loads it (from the same bundled files, in an environment never `--update-specs`ed)."""
    made = {
        resource["Type"]
        for target in STACKS.values()
        for resource in target.build().to_dict()["Resources"].values()
    }
    assert "AWS::IAM::Role" in made
    for kind in sorted(made):
        expected = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema
        assert resource_schema(kind) == expected, kind
    with pytest.raises(ResourceNotFoundError):
        PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::Nothing::Here")
    assert resource_schema("AWS::Nothing::Here") == {}


def test_every_listed_exclusion_is_used_and_has_a_reason() -> None:
    expected = {(k, a) for k, actions in EXPECTED_EXCLUDED.items() for a in actions}
    found = {
        (e.resource_type, action)
        for e in EXCLUSIONS
        for action in handler_actions(e.resource_type)
        if e.covers(e.resource_type, action)
    }
    assert found == expected
    assert all(e.reason for e in EXCLUSIONS)


def test_the_premises_of_the_exclusions_hold() -> None:
    """What the exclusions say the templates never use, they never use (every variant)."""
    for short, settings, _ in VARIANTS:
        target = STACKS[short]
        resources = target.build(options_for(target, settings)).to_dict()["Resources"]
        for logical, resource in resources.items():
            props = resource.get("Properties", {})
            kind = resource["Type"]
            absent = {
                "AWS::IAM::Policy": {"Users", "Groups"},
                "AWS::S3::Bucket": {
                    "ReplicationConfiguration",
                    "MetadataTableConfiguration",
                    "MetadataConfiguration",
                },
                "AWS::SNS::Topic": {"Subscription", "DeliveryStatusLogging"},
                "AWS::SNS::Subscription": {"SubscriptionRoleArn"},
                "AWS::Events::Rule": {"RoleArn"},
                "AWS::Logs::LogGroup": {"ResourcePolicyDocument", "FieldIndexPolicies"},
                "AWS::Lambda::Function": {
                    "VpcConfig",
                    "FileSystemConfigs",
                    "KmsKeyArn",
                    "Layers",
                    "CodeSigningConfigArn",
                    "CapacityProviderConfig",
                },
            }.get(kind, set())
            assert not absent & set(props), f"{logical} uses {absent & set(props)}"
            if kind == "AWS::Lambda::Function":
                assert set(props["Code"]) == {"ZipFile"}
            if kind == "AWS::Events::Rule":
                assert all("RoleArn" not in t for t in props["Targets"])


# === Formats, docs and the command =========================================================


@pytest.mark.parametrize("short", list(STACKS))
@pytest.mark.parametrize("concrete_names", [False, True])
def test_the_role_template_passes_cfn_lint(short: str, concrete_names: bool) -> None:
    names = (
        {"stack_name": "clz", "region": "eu-west-1", "account": SELLER, "template_bucket": BUCKET}
        if concrete_names
        else {}
    )
    # outside us-east-1 only a stack without EventBridge deploys
    settings = {"enable_event_bridge": "false"} if concrete_names else {}
    text = deployer_policy(short, fmt="template", settings=settings, **names)
    assert lint(text) == []
    template, _ = decode_str(text)
    role = template["Resources"]["DeployerRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "cloudformation.amazonaws.com"}]
    sids = [s["Sid"] for s in role["Policies"][0]["PolicyDocument"]["Statement"]]
    document = json.loads(deployer_policy(short, fmt="json", settings=settings, **names))
    assert sids == [s["Sid"] for s in document["Statement"]]
    declared = set(template.get("Parameters", {}))
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assert used == declared, "every placeholder is a parameter, and only those"
    assert ("StackName" in declared) is not concrete_names


def test_markdown_explains_every_statement_and_exclusion() -> None:
    policy = build_deployer_policy("marketplace")
    text = deployer_policy("marketplace", fmt="markdown")
    for st in policy.statements:
        assert f"## `{st.sid}`" in text
        assert st.why in text
        assert "Needed by: " + ", ".join(f"`{n}`" for n in st.needed_by) in text
    for kind, action, reason in policy.excluded:
        assert f"| `{kind}` | `{action}` | {reason} |" in text
    assert "`Custom::ClazarReporter`: a custom resource has no resource schema" in text


def test_committed_document_is_generated() -> None:
    path = ROOT / DEPLOYER_DOC
    assert path.read_text(encoding="utf-8") == generated_files(ROOT)[path], "run `make templates`"


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_set_removes_what_the_build_no_longer_creates() -> None:
    with_cas = run("deployer-policy", "marketplace", "--set", "enable_cas=true")
    without = run(
        "deployer-policy",
        "marketplace",
        "--set",
        "enable_cas=false",
        "--set",
        "sdds_bucket_name=seller-sdds-bucket",
    )
    assert with_cas.exit_code == without.exit_code == 0
    assert "clazar-cas-${StackName}" in with_cas.output
    assert "s3:CreateBucket" in with_cas.output
    assert "clazar-cas-" not in without.output
    assert "s3:CreateBucket" not in without.output  # no bucket is created at all
    assert "clazar-sdds-${StackName}" in without.output


def test_names_make_the_arns_concrete() -> None:
    result = run(
        "deployer-policy", "cosell", "--stack-name", "clz", "--region", "us-gov-west-1",
        "--account", SELLER, "--template-bucket", BUCKET, "--set", "enable_event_bridge=false",
    )  # fmt: skip
    assert result.exit_code == 0
    assert "${" not in result.output
    document = json.loads(result.output)
    stack = document["Statement"][0]
    assert stack["Resource"] == f"arn:aws-us-gov:cloudformation:us-gov-west-1:{SELLER}:stack/clz/*"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["nope"], "STACK"),
        (["cosell", "--set", "enable_event_bridge=maybe"], "--set"),
        (["cosell", "--set", "colour=blue"], "--set"),
        (["cosell", "--set", "novalue"], "--set"),
        (["cosell", "--stack-name", "bad_name"], "--stack-name"),
        (["cosell", "--stack-name", "a-very-very-long-stack-name"], "--stack-name"),
        (["cosell", "--region", "us-east-1\n"], "--region"),
        (["cosell", "--account", "12345"], "--account"),
        (["cosell", "--template-bucket", "Not_A_Bucket"], "--template-bucket"),
        (["cosell", "--template-prefix", "a/../b"], "--template-prefix"),
        (["cosell", "--format", "yaml"], "--format"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(args: list[str], field: str) -> None:
    result = CliRunner().invoke(cli, ["deployer-policy", *args])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert field in errors[0], result.output
    assert "Traceback" not in result.output


def test_library_errors_name_the_argument() -> None:
    with pytest.raises(DeployerError) as unknown:
        deployer_policy("nope")
    assert unknown.value.field == "stack"
    with pytest.raises(DeployerError) as bad_set:
        deployer_policy("marketplace", settings={"enable_cas": "maybe"})
    assert bad_set.value.field == "set"
    with pytest.raises(DeployerError) as bad_format:
        deployer_policy("marketplace", fmt="yaml")
    assert bad_format.value.field == "format"
