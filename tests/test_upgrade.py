"""``upgrade`` against moto's CloudFormation: plans, refusals, applies, failures, exit codes.

The change-set mechanics run on a small template derived from ours (a named role with
one inline policy, a named queue; ``Metadata.Clazar`` says which of ours it is), so each
test deploys in milliseconds; one test plans, refuses and applies an upgrade between two
builds of the real Role & Access template. moto makes change sets but gives no
``Replacement`` field: the replacements seen here are the offline prediction from the
schemas' createOnlyProperties (AWS's field is tested on DescribeChangeSet data at the end).
moto applies a change set at once, with one event for the stack and none per resource, and
has no rollback: a failed update is made as AWS reports one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result

from clazar_templates import MarketplaceOptions, __version__, build_marketplace, to_json
from clazar_templates.aws.upgrade import (
    UpgradeError,
    UpgradeInputError,
    apply_upgrade,
    plan_upgrade,
)
from clazar_templates.aws.upgrade.changes import resource_changes
from clazar_templates.cli import cli
from conftest import Deployment
from support import ACCOUNT, DEPLOY_VALUES, VENDOR

pytestmark = pytest.mark.slow
STACK = "clazar"
REGION = "us-east-1"


def small(version: str = "0.1.0") -> dict[str, Any]:
    """A Role & Access template cut down to a role, its queue policy and the queue."""
    queue_arn = {"Fn::GetAtt": ["ClazarSqsQueue", "Arn"]}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Metadata": {"Clazar": {"Template": "clazar-marketplace", "Version": version}},
        "Parameters": {
            "ExternalId": {"Type": "String", "AllowedPattern": "[\\w+=,.@:/-]{2,1224}"},
        },
        "Resources": {
            "ClazarRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "ClazarRole",
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "TrustClazarAccount",
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{VENDOR}:root"},
                                "Action": "sts:AssumeRole",
                                "Condition": {
                                    "StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}
                                },
                            }
                        ],
                    },
                },
            },
            "ClazarSqsAccess": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "ClazarSqsAccess",
                    "Roles": [{"Ref": "ClazarRole"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "ReadQueue",
                                "Effect": "Allow",
                                "Action": ["sqs:ReceiveMessage"],
                                "Resource": queue_arn,
                            }
                        ],
                    },
                },
            },
            "ClazarSqsQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": "clazar-queue"},
            },
        },
        "Outputs": {"ClazarRoleArn": {"Value": {"Fn::GetAtt": ["ClazarRole", "Arn"]}}},
    }


def with_statement(version: str = "0.2.0") -> dict[str, Any]:
    """Only one action more in the role's policy."""
    template = small(version)
    statement = template["Resources"]["ClazarSqsAccess"]["Properties"]["PolicyDocument"]
    statement["Statement"][0]["Action"].append("sqs:DeleteMessage")
    return template


def with_resource(version: str = "0.2.0") -> dict[str, Any]:
    """A dead-letter queue more."""
    template = small(version)
    template["Resources"]["ClazarSqsDeadLetterQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"QueueName": "clazar-queue-dlq"},
    }
    return template


def with_renamed_queue(version: str = "0.2.0") -> dict[str, Any]:
    """The queue renamed (QueueName is create-only: CloudFormation replaces the queue)."""
    template = small(version)
    template["Resources"]["ClazarSqsQueue"]["Properties"]["QueueName"] = "clazar-queue-2"
    return template


@pytest.fixture
def cfn(aws: None) -> Iterator[Any]:
    """moto's CloudFormation, with ``small()`` deployed as STACK."""
    client = boto3.client("cloudformation", region_name=REGION)
    create(client, small())
    return client


def create(client: Any, template: dict[str, Any], name: str = STACK) -> None:
    client.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": "ext-0001"}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    (stack,) = client.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def target(tmp_path: Path, template: dict[str, Any], name: str = "new.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(template), encoding="utf-8")
    return str(path)


def change_sets(client: Any, name: str = STACK) -> list[Any]:
    return list(client.list_change_sets(StackName=name)["Summaries"])


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["upgrade", *args], catch_exceptions=False)


# --- plans -------------------------------------------------------------------------------


def create_with_every_parameter(cloudformation: Any, template: Any) -> None:
    """Create STACK from ``template`` with every parameter given, defaults too: moto's update
    counts a parameter it was not given as changed, and then updates resources whose
    Condition is false (AWS does neither)."""
    declared = template.to_dict()["Parameters"]
    values = {k: str(spec.get("Default", DEPLOY_VALUES.get(k))) for k, spec in declared.items()}
    cloudformation.client.create_stack(
        StackName=STACK,
        TemplateBody=to_json(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    assert cloudformation.wait(STACK)["StackStatus"] == "CREATE_COMPLETE"


def test_a_statement_more_is_a_modify_that_grows_permissions(cfn: Any, tmp_path: Path) -> None:
    plan = plan_upgrade(STACK, target(tmp_path, with_statement()), client=cfn)
    assert (plan.from_version, plan.to_version) == ("0.1.0", "0.2.0")
    assert [(c.action, c.logical_id, c.replaces) for c in plan.changes] == [
        ("Modify", "ClazarSqsAccess", False)
    ]
    assert plan.permissions.grew
    (subject,) = plan.permissions.subjects
    assert subject.name == "ClazarRole"
    assert [a for c in subject.changes for a in c.actions] == ["sqs:deletemessage"]
    assert not plan.flagged
    assert change_sets(cfn) == []  # planned only: the change set is gone
    report = plan.to_markdown()
    assert "0.1.0 → 0.2.0" in report
    assert "**Permissions grew**" in report
    assert "pass --accept-growth" in report


def test_a_resource_more_is_an_add(cfn: Any, tmp_path: Path) -> None:
    plan = plan_upgrade(STACK, target(tmp_path, with_resource()), client=cfn)
    assert [(c.action, c.logical_id) for c in plan.changes] == [("Add", "ClazarSqsDeadLetterQueue")]
    assert not plan.permissions.grew
    assert not plan.refusals
    assert "1 to add, 0 to modify (0 replaced), 0 to remove" in plan.to_markdown()
    assert change_sets(cfn) == []


def test_a_renamed_queue_is_replaced_and_flagged(cfn: Any, tmp_path: Path) -> None:
    plan = plan_upgrade(STACK, target(tmp_path, with_renamed_queue()), client=cfn)
    queue = next(c for c in plan.changes if c.logical_id == "ClazarSqsQueue")
    assert (queue.action, queue.replacement) == ("Modify", "")  # moto gives no Replacement
    assert queue.create_only == ("QueueName",)
    assert queue.replaces
    assert queue.stateful
    assert queue.flagged
    assert "deleted with the messages it holds" in queue.fate
    assert any("ClazarSqsQueue would be replaced" in r for r in plan.refusals)
    report = plan.to_markdown()
    assert "| Modify | `ClazarSqsQueue` | AWS::SQS::Queue | **yes** |" in report
    assert "- **`ClazarSqsQueue` (AWS::SQS::Queue) replaced" in report
    assert change_sets(cfn) == []


def test_a_retained_queue_says_its_data_is_kept(cfn: Any, tmp_path: Path) -> None:
    template = with_renamed_queue()
    template["Resources"]["ClazarSqsQueue"]["UpdateReplacePolicy"] = "Retain"
    plan = plan_upgrade(STACK, target(tmp_path, template), client=cfn)
    (queue,) = plan.flagged
    assert "retained (UpdateReplacePolicy: Retain)" in queue.fate
    assert "orphaned" in queue.fate


def test_a_renamed_clazar_role_is_flagged_but_not_other_roles(cfn: Any, tmp_path: Path) -> None:
    """The role whose ARN the stack outputs is the one Clazar assumes: stateful."""
    template = small("0.2.0")
    template["Resources"]["ClazarRole"]["Properties"]["RoleName"] = "ClazarRole2"
    template["Resources"]["OtherRole"] = copy.deepcopy(template["Resources"]["ClazarRole"])
    template["Resources"]["OtherRole"]["Properties"]["RoleName"] = "OtherRole"
    plan = plan_upgrade(STACK, target(tmp_path, template), client=cfn)
    role = next(c for c in plan.changes if c.logical_id == "ClazarRole")
    assert role.create_only == ("RoleName",)
    assert role.flagged
    assert "Clazar cannot assume it until the new one exists" in role.fate
    other = next(c for c in plan.changes if c.logical_id == "OtherRole")
    assert other.action == "Add"
    assert not other.stateful


def test_a_removed_queue_is_flagged_with_its_deletion_policy(aws: None, tmp_path: Path) -> None:
    client = boto3.client("cloudformation", region_name=REGION)
    create(client, with_resource("0.1.0"))
    plan = plan_upgrade(STACK, target(tmp_path, small("0.2.0")), client=client)
    (removed,) = plan.flagged
    assert (removed.action, removed.logical_id) == ("Remove", "ClazarSqsDeadLetterQueue")
    assert "removed: the resource is deleted (DeletionPolicy: Delete)" in removed.fate
    assert plan.refusals == [
        "stateful ClazarSqsDeadLetterQueue would be removed: pass --accept-removal"
    ]


def test_a_removal_needs_consent_to_apply(aws: None, tmp_path: Path) -> None:
    """Removing a stateful resource (the queue and its messages, the role Clazar assumes)
    is applied only with --accept-removal; the change set is gone either way."""
    client = boto3.client("cloudformation", region_name=REGION)
    create(client, with_resource("0.1.0"))
    path = target(tmp_path, small("0.2.0"))
    refused = run("--stack", STACK, "--to", path, "--apply")
    assert refused.exit_code == 1, refused.output
    assert refused.stderr.strip().splitlines()[-1] == (
        "Error: not applied: stateful ClazarSqsDeadLetterQueue would be removed: "
        "pass --accept-removal"
    )
    assert change_sets(client) == []
    queues = boto3.client("sqs").list_queues()["QueueUrls"]
    assert sorted(u.rsplit("/", 1)[1] for u in queues) == ["clazar-queue", "clazar-queue-dlq"]
    applied = run("--stack", STACK, "--to", path, "--apply", "--accept-removal")
    assert applied.exit_code == 0, applied.output
    queues = boto3.client("sqs").list_queues()["QueueUrls"]
    assert [u.rsplit("/", 1)[1] for u in queues] == ["clazar-queue"]


def test_a_removed_clazar_role_says_it_is_not_replaced(aws: None, tmp_path: Path) -> None:
    client = boto3.client("cloudformation", region_name=REGION)
    create(client, small("0.1.0"))
    template = small("0.2.0")
    del template["Resources"]["ClazarRole"]
    del template["Resources"]["ClazarSqsAccess"]
    del template["Outputs"]["ClazarRoleArn"]
    template["Outputs"] = {"Queue": {"Value": {"Ref": "ClazarSqsQueue"}}}
    plan = plan_upgrade(STACK, target(tmp_path, template), client=client)
    role = next(c for c in plan.flagged if c.logical_id == "ClazarRole")
    assert role.action == "Remove"
    assert "until the new one exists" not in role.fate
    assert "nothing replaces it: Clazar can no longer assume it" in role.fate
    assert any("ClazarRole" in r and "--accept-removal" in r for r in plan.refusals)


def test_no_changes(cfn: Any, tmp_path: Path) -> None:
    plan = plan_upgrade(STACK, target(tmp_path, small()), client=cfn)
    assert plan.changes == ()
    assert plan.change_set is None
    assert "**No resource changes.**" in plan.to_markdown()
    assert change_sets(cfn) == []


def test_parameters_new_removed_changed_and_required(aws: None, tmp_path: Path) -> None:
    client = boto3.client("cloudformation", region_name=REGION)
    old = small()
    old["Parameters"]["Legacy"] = {"Type": "String", "Default": "kept-until-now"}
    create(client, old)
    new = with_statement()
    new["Parameters"]["RetentionDays"] = {"Type": "String", "Default": "4"}
    path = target(tmp_path, new)
    plan = plan_upgrade(STACK, path, client=client, parameters={"ExternalId": "ext-0002"})
    notes = {n.name: (n.change, n.detail) for n in plan.parameters}
    assert notes == {
        "ExternalId": ("changed", "'ext-0001' -> 'ext-0002'"),
        "RetentionDays": ("new", "takes its default '4'"),
        "Legacy": ("removed", "its value 'kept-until-now' is no longer used"),
    }
    assert "| `Legacy` | removed | its value 'kept-until-now' is no longer used |" in (
        plan.to_markdown()
    )
    new["Parameters"]["Required"] = {"Type": "String", "Description": "Something new."}
    with pytest.raises(UpgradeInputError, match=r"Required: .* adds this required parameter"):
        plan_upgrade(STACK, target(tmp_path, new, "required.json"), client=client)
    assert change_sets(client) == []


# --- apply -------------------------------------------------------------------------------


def test_growth_is_refused_and_leaves_no_change_set(cfn: Any, tmp_path: Path) -> None:
    plan = plan_upgrade(STACK, target(tmp_path, with_statement()), client=cfn, keep_change_set=True)
    assert len(change_sets(cfn)) == 1
    with pytest.raises(UpgradeError, match=r"permissions grow .*--accept-growth"):
        apply_upgrade(plan, progress=lambda _: None)
    assert change_sets(cfn) == []
    policy = boto3.client("iam").get_role_policy(
        RoleName="ClazarRole", PolicyName="ClazarSqsAccess"
    )
    assert "sqs:DeleteMessage" not in json.dumps(policy["PolicyDocument"])


def test_replacement_is_refused_without_accepting_it(cfn: Any, tmp_path: Path) -> None:
    plan = plan_upgrade(
        STACK, target(tmp_path, with_renamed_queue()), client=cfn, keep_change_set=True
    )
    with pytest.raises(UpgradeError, match="ClazarSqsQueue would be replaced"):
        apply_upgrade(plan, accept_growth=True, progress=lambda _: None)
    assert change_sets(cfn) == []
    urls = boto3.client("sqs").list_queues()["QueueUrls"]
    assert [u.rsplit("/", 1)[1] for u in urls] == ["clazar-queue"]


def test_an_accepted_change_set_is_applied(cfn: Any, tmp_path: Path) -> None:
    plan = plan_upgrade(STACK, target(tmp_path, with_resource()), client=cfn, keep_change_set=True)
    lines: list[str] = []
    result = apply_upgrade(plan, progress=lines.append, poll=0.01)
    assert result.ok
    assert result.status == "UPDATE_COMPLETE"
    assert not result.failure
    assert lines
    assert lines[-1].endswith(f"{STACK} AWS::CloudFormation::Stack UPDATE_COMPLETE")
    urls = boto3.client("sqs").list_queues()["QueueUrls"]
    assert sorted(u.rsplit("/", 1)[1] for u in urls) == ["clazar-queue", "clazar-queue-dlq"]
    template = cfn.get_template(StackName=STACK)["TemplateBody"]
    assert template["Metadata"]["Clazar"]["Version"] == "0.2.0"


def test_an_accepted_replacement_is_applied(cfn: Any, tmp_path: Path) -> None:
    plan = plan_upgrade(
        STACK, target(tmp_path, with_renamed_queue()), client=cfn, keep_change_set=True
    )
    result = apply_upgrade(plan, accept_replacement=True, progress=lambda _: None, poll=0.01)
    assert result.ok
    template = cfn.get_template(StackName=STACK)["TemplateBody"]
    assert template["Resources"]["ClazarSqsQueue"]["Properties"]["QueueName"] == "clazar-queue-2"


def test_a_failed_update_reports_the_first_failure_and_the_rollback(
    cfn: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto applies a change set at once and has no rollback: make it fail as AWS does."""
    from moto.cloudformation import cloudformation_backends
    from moto.cloudformation.models import CloudFormationBackend

    def fail(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        stack = cloudformation_backends[ACCOUNT][REGION].get_stack(STACK)
        stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        for status, reason in [
            ("UPDATE_IN_PROGRESS", None),
            ("UPDATE_FAILED", "clazar-queue-dlq already exists"),
            ("UPDATE_FAILED", "Resource update cancelled"),
        ]:
            stack._add_stack_event(status, resource_status_reason=reason)
            event = stack.events[-1]
            event.logical_resource_id = "ClazarSqsDeadLetterQueue"
            event.resource_type = "AWS::SQS::Queue"
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        del self.change_sets[change_set_name]

    monkeypatch.setattr(CloudFormationBackend, "execute_change_set", fail)
    plan = plan_upgrade(STACK, target(tmp_path, with_resource()), client=cfn, keep_change_set=True)
    lines: list[str] = []
    result = apply_upgrade(plan, progress=lines.append, poll=0.01)
    assert not result.ok
    assert result.status == "UPDATE_ROLLBACK_COMPLETE"
    assert result.failure == (
        "ClazarSqsDeadLetterQueue (AWS::SQS::Queue): clazar-queue-dlq already exists"
    )
    assert result.summary.startswith("Error: the upgrade failed: ClazarSqsDeadLetterQueue")
    assert len(lines) == 5
    assert lines[-1].endswith("UPDATE_ROLLBACK_COMPLETE")


# --- the real template -------------------------------------------------------------------


def test_upgrade_between_two_builds_of_the_marketplace_template(
    cloudformation: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clazar_templates.template import render

    # What the plan says; a file over the TemplateBody limit is refused apart (below), and
    # moto enforces no limit.
    monkeypatch.setattr(render, "TEMPLATE_BODY_LIMIT", render.TEMPLATE_URL_LIMIT)
    old = build_marketplace(MarketplaceOptions(version="0.9.0", allow_marketplace_access=False))
    client = cloudformation.client
    create_with_every_parameter(cloudformation, old)
    new = build_marketplace(MarketplaceOptions(allow_marketplace_access=True))
    path = tmp_path / "clazar-marketplace.json"
    path.write_text(to_json(new), encoding="utf-8")

    plan = plan_upgrade(STACK, str(path), client=client)
    assert (plan.from_version, plan.to_version) == ("0.9.0", __version__)  # not "modified"
    assert plan.source.endswith(f"from {path}, as this package builds it")
    actions = {c.logical_id: c.action for c in plan.changes}
    assert actions["ClazarMarketplaceAccessPolicy"] == "Add"
    assert actions["ClazarReporter"] == "Modify"  # its TemplateVersion changes
    assert plan.permissions.grew
    grown = [s for s in plan.permissions.subjects if s.grew]
    assert [s.name for s in grown] == ["ClazarRole"]
    assert plan.fresh == ("ClazarSecretKey",)  # the reporter reports again: a new secret
    assert not [c for c in plan.changes if c.replaces]
    assert change_sets(client) == []

    # Applying needs the new secret; with it, the growth must still be accepted.
    with pytest.raises(UpgradeInputError, match="ClazarSecretKey: the reporter runs again"):
        apply_upgrade(
            plan_upgrade(STACK, str(path), client=client, keep_change_set=True),
            accept_growth=True,
            progress=lambda _: None,
        )
    assert change_sets(client) == []
    secret = {"ClazarSecretKey": "n3w-s3cr3t-0123456789"}
    plan = plan_upgrade(STACK, str(path), client=client, parameters=secret, keep_change_set=True)
    assert plan.fresh == ()
    assert "| `ClazarSecretKey` | changed | a new value (NoEcho: not shown) |" in plan.to_markdown()
    with pytest.raises(UpgradeError, match="permissions grow"):
        apply_upgrade(plan, progress=lambda _: None)
    assert change_sets(client) == []
    policies = boto3.client("iam").list_role_policies(RoleName="ClazarRole")["PolicyNames"]
    assert "ClazarMarketplaceAccessPolicy" not in policies

    plan = plan_upgrade(STACK, str(path), client=client, parameters=secret, keep_change_set=True)
    result = apply_upgrade(plan, accept_growth=True, progress=lambda _: None, poll=0.01)
    assert result.ok
    policies = boto3.client("iam").list_role_policies(RoleName="ClazarRole")["PolicyNames"]
    assert "ClazarMarketplaceAccessPolicy" in policies
    deployed = client.get_template(StackName=STACK)["TemplateBody"]
    assert deployed["Metadata"]["Clazar"]["Version"] == __version__


# --- bad input and failures --------------------------------------------------------------


def test_exit_codes(cfn: Any, tmp_path: Path) -> None:
    grows = target(tmp_path, with_statement())
    planned = run("--stack", STACK, "--to", grows)
    assert planned.exit_code == 0, planned.output
    assert "## Upgrade of stack `clazar` (us-east-1)" in planned.stdout
    refused = run("--stack", STACK, "--to", grows, "--apply")
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "Error: not applied: permissions grow (see the permission changes): pass --accept-growth"
    )
    applied = run("--stack", STACK, "--to", grows, "--apply", "--accept-growth")
    assert applied.exit_code == 0, applied.output
    assert applied.stdout.strip().splitlines()[-1] == "Upgraded clazar: UPDATE_COMPLETE"
    assert change_sets(cfn) == [] or all(
        s["ExecutionStatus"] == "EXECUTE_COMPLETE" for s in change_sets(cfn)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "1bad"], "--stack: '1bad' is not a stack name"),
        (["--region", "mars"], "--region: 'mars' is not an AWS region name"),
        (["--to", "not a version"], "--to: 'not a version' is neither a template file"),
        (["--to", "9.9.9"], "--bucket: 9.9.9 is not this package's version"),
        (["--to", "missing.yaml"], "--to: cannot read missing.yaml"),
        (["--param", "Nope=1"], "--param: Nope: NEW has no such parameter"),
        (["--param", "ExternalId=x"], "--param: ExternalId: expected to match"),
        (["--param", "broken"], "'broken' is not NAME=VALUE"),
    ],
)
def test_usage_errors_exit_2(cfn: Any, tmp_path: Path, args: list[str], message: str) -> None:
    new = target(tmp_path, with_statement())
    arguments = {"--stack": STACK, "--to": new, **dict([args])}
    result = run(*(x for pair in arguments.items() for x in pair))
    assert result.exit_code == 2, result.output
    if args == ["--param", "broken"]:  # click's own usage error (usage, then the error)
        assert message in result.stderr
    else:
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"Error: {message.replace('NEW', new)}")
    assert "Traceback" not in result.output
    assert change_sets(cfn) == []


def _mid_update(_: Any) -> None:
    from moto.cloudformation import cloudformation_backends

    cloudformation_backends[ACCOUNT][REGION].get_stack(STACK).status = "UPDATE_IN_PROGRESS"


def _rollback_failed(_: Any) -> None:
    from moto.cloudformation import cloudformation_backends

    cloudformation_backends[ACCOUNT][REGION].get_stack(STACK).status = "UPDATE_ROLLBACK_FAILED"


def _not_ours(client: Any) -> None:
    template = small()
    del template["Metadata"]
    template["Resources"]["ClazarRole"]["Properties"]["RoleName"] = "OtherRole"
    template["Resources"]["ClazarSqsQueue"]["Properties"]["QueueName"] = "other-queue"
    create(client, template, "other")


@pytest.mark.parametrize(
    ("setup", "stack", "message"),
    [
        (None, "nosuch", "stack nosuch: no such stack in us-east-1; check --stack and --region"),
        (_not_ours, "other", "stack other: not a Clazar stack: its template has no Metadata"),
        (_mid_update, STACK, "is UPDATE_IN_PROGRESS: another operation is running on it"),
        (_rollback_failed, STACK, "continue-update-rollback --stack-name clazar"),
    ],
)
def test_stacks_that_cannot_be_upgraded_exit_1(
    cfn: Any, tmp_path: Path, setup: Any, stack: str, message: str
) -> None:
    if setup:
        setup(cfn)
    result = run("--stack", stack, "--to", target(tmp_path, with_statement()))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    assert message in line
    assert result.stdout == ""
    assert change_sets(cfn, stack if stack != "nosuch" else STACK) == []


def publish_small(template: dict[str, Any], version: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="clazar-published")
    key = f"templates/{version}/clazar-marketplace.yaml"
    s3.put_object(Bucket="clazar-published", Key=key, Body=json.dumps(template).encode())


@pytest.mark.parametrize("as_url", [False, True])
def test_a_published_version(cfn: Any, monkeypatch: pytest.MonkeyPatch, as_url: bool) -> None:
    """Read from the bucket; sent by URL when too big for a body (made so here)."""
    from clazar_templates.template import render

    publish_small(with_resource("0.2.0"), "0.2.0")
    if as_url:
        monkeypatch.setattr(render, "TEMPLATE_BODY_LIMIT", 100)
    sent: list[str] = []
    create = cfn.create_change_set

    def spy(**kwargs: Any) -> Any:
        sent.append("TemplateURL" if "TemplateURL" in kwargs else "TemplateBody")
        return create(**kwargs)

    monkeypatch.setattr(cfn, "create_change_set", spy)
    plan = plan_upgrade(STACK, "0.2.0", bucket="clazar-published", client=cfn)
    assert sent == ["TemplateURL" if as_url else "TemplateBody"]
    assert plan.source.startswith("clazar-marketplace 0.2.0 as published at s3://clazar-published/")
    assert [(c.action, c.logical_id) for c in plan.changes] == [("Add", "ClazarSqsDeadLetterQueue")]
    assert change_sets(cfn) == []


def test_a_version_not_published_exits_1(cfn: Any) -> None:
    boto3.client("s3").create_bucket(Bucket="clazar-published")
    result = run("--stack", STACK, "--to", "9.9.9", "--bucket", "clazar-published")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert (
        "Error: --to 9.9.9: cannot read clazar-marketplace 9.9.9 from s3://clazar-published/"
        in line
    )
    assert change_sets(cfn) == []


class _Denied:
    """The moto client, except that one operation is denied."""

    def __init__(self, client: Any, operation: str) -> None:
        self.client, self.operation = client, operation

    def __getattr__(self, name: str) -> Any:
        if name == self.operation:

            def denied(**_: Any) -> None:
                error = {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}
                raise ClientError(error, "".join(p.title() for p in name.split("_")))

            return denied
        return getattr(self.client, name)


@pytest.mark.parametrize(
    "operation", ["describe_stacks", "create_change_set", "describe_change_set"]
)
def test_access_denied_names_the_permission(cfn: Any, tmp_path: Path, operation: str) -> None:
    action = "cloudformation:" + "".join(p.title() for p in operation.split("_"))
    with pytest.raises(UpgradeError, match=f"access denied: .*\\({action}\\)"):
        plan_upgrade(STACK, target(tmp_path, with_statement()), client=_Denied(cfn, operation))
    assert change_sets(cfn) == []


def test_a_template_of_the_other_stack_is_refused(cfn: Any, tmp_path: Path) -> None:
    template = copy.deepcopy(small())
    template["Metadata"]["Clazar"]["Template"] = "clazar-cosell"
    with pytest.raises(
        UpgradeInputError, match="is clazar-cosell; the stack runs clazar-marketplace"
    ):
        plan_upgrade(STACK, target(tmp_path, template), client=cfn)


# --- what AWS says that moto does not ------------------------------------------------------


def _listed(action: str, logical: str, kind: str, replacement: str) -> dict[str, Any]:
    change = {"Action": action, "LogicalResourceId": logical, "ResourceType": kind}
    return {"Type": "Resource", "ResourceChange": {**change, "Replacement": replacement}}


def test_replacement_from_the_change_set_counts_without_a_create_only_change() -> None:
    """AWS's ``Replacement`` is believed where the offline prediction sees nothing (a
    property it cannot resolve), and ``Conditional`` is shown as a maybe, flagged."""
    resolved = {"Resources": small()["Resources"], "Outputs": small()["Outputs"]}
    listed = [
        _listed("Modify", "ClazarSqsQueue", "AWS::SQS::Queue", "True"),
        _listed("Modify", "ClazarRole", "AWS::IAM::Role", "Conditional"),
        _listed("Modify", "ClazarSqsAccess", "AWS::IAM::Policy", "False"),
    ]
    changes = {c.logical_id: c for c in resource_changes(listed, resolved, resolved)}
    queue, role, policy = (changes[n] for n in ("ClazarSqsQueue", "ClazarRole", "ClazarSqsAccess"))
    assert queue.create_only == ()
    assert queue.replaces
    assert queue.flagged
    assert not role.replaces
    assert role.flagged
    assert role.fate.startswith("may be replaced (CloudFormation: Conditional)")
    assert not policy.replaces
    assert not policy.flagged


@pytest.mark.parametrize("operation", ["describe_stack_events", "execute_change_set"])
def test_apply_denied_leaves_no_change_set(cfn: Any, tmp_path: Path, operation: str) -> None:
    client = _Denied(cfn, operation)
    plan = plan_upgrade(
        STACK, target(tmp_path, with_resource()), client=client, keep_change_set=True
    )
    with pytest.raises(UpgradeError, match="access denied: cannot"):
        apply_upgrade(plan, progress=lambda _: None)
    assert change_sets(cfn) == []
    assert not plan.kept


def test_nothing_to_apply(cfn: Any, tmp_path: Path) -> None:
    result = run("--stack", STACK, "--to", target(tmp_path, small()), "--apply")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "clazar: nothing to change"
    assert change_sets(cfn) == []


# --- gates that cannot be walked around (issue 24) ------------------------------------------


def test_a_hostile_admin_user_is_growth_that_apply_refuses(cfn: Any, tmp_path: Path) -> None:
    """An IAM user with AdministratorAccess and an access key whose secret is an output:
    no role or resource policy changes, yet the permissions grow."""
    template = small("0.2.0")
    template["Resources"]["Backdoor"] = {
        "Type": "AWS::IAM::User",
        "Properties": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
    }
    template["Resources"]["BackdoorKey"] = {
        "Type": "AWS::IAM::AccessKey",
        "Properties": {"UserName": {"Ref": "Backdoor"}},
    }
    template["Outputs"]["Key"] = {"Value": {"Fn::GetAtt": ["BackdoorKey", "SecretAccessKey"]}}
    path = target(tmp_path, template)
    plan = plan_upgrade(STACK, path, client=cfn)
    assert plan.permissions.grew
    assert {s.name for s in plan.permissions.subjects if s.grew} == {"Backdoor", "Outputs.Key"}
    refused = run("--stack", STACK, "--to", path, "--apply")
    assert refused.exit_code == 1, refused.output
    assert "permissions grow" in refused.stderr
    assert change_sets(cfn) == []
    assert boto3.client("iam").list_users()["Users"] == []


def with_secret(version: str, no_echo: bool = True) -> dict[str, Any]:
    template = small(version)
    template["Parameters"]["ClazarSecretKey"] = {"Type": "String", "Default": "unset"}
    if no_echo:
        template["Parameters"]["ClazarSecretKey"]["NoEcho"] = True
    return template


NEW_SECRET = "n3w-s3cr3t-0123456789"


def test_a_file_claiming_this_version_is_compared_and_noecho_is_kept(
    aws: None, tmp_path: Path
) -> None:
    """The file says it is this package's version and only dropped NoEcho from the secret:
    the plan calls it modified and prints no secret."""
    client = boto3.client("cloudformation", region_name=REGION)
    create(client, with_secret("0.1.0"))
    new = with_secret(__version__, no_echo=False)
    plan = plan_upgrade(
        STACK, target(tmp_path, new), client=client, parameters={"ClazarSecretKey": NEW_SECRET}
    )
    report = plan.to_markdown()
    assert NEW_SECRET not in report
    assert plan.to_version == f"{__version__} (modified)"
    assert f"modified: it says clazar-marketplace {__version__} but differs" in plan.source
    assert "| `ClazarSecretKey` | changed | a new value (NoEcho: not shown) |" in report
    assert "| `ClazarSecretKey` | no longer NoEcho |" in report
    assert NEW_SECRET not in json.dumps(plan.permissions.parameters)


def test_a_file_of_another_version_says_it_is_not_verified(cfn: Any, tmp_path: Path) -> None:
    plan = plan_upgrade(STACK, target(tmp_path, with_statement()), client=cfn)
    assert plan.source.endswith(f"(not verified: this package builds {__version__})")
    assert plan.to_version == "0.2.0"


class _Wrapped:
    """The moto client, with one operation replaced by ``how(real, **kwargs)``."""

    def __init__(self, client: Any, operation: str, how: Any) -> None:
        self.client, self.operation, self.how = client, operation, how

    def __getattr__(self, name: str) -> Any:
        if name == self.operation:
            real = getattr(self.client, name)
            return lambda **kwargs: self.how(real, **kwargs)
        return getattr(self.client, name)


def test_ctrl_c_while_the_change_set_is_made_leaves_nothing(cfn: Any, tmp_path: Path) -> None:
    def interrupted(real: Any, **kwargs: Any) -> Any:
        real(**kwargs)  # AWS made it; the answer never arrives
        raise KeyboardInterrupt

    client = _Wrapped(cfn, "create_change_set", interrupted)
    with pytest.raises(KeyboardInterrupt):
        plan_upgrade(STACK, target(tmp_path, with_resource()), client=client)
    assert change_sets(cfn) == []


def test_a_retried_create_that_meets_already_exists_adopts_it(cfn: Any, tmp_path: Path) -> None:
    """botocore retries a CreateChangeSet whose answer was lost; the retry is told the
    change set already exists. It is ours: planned from, then deleted, or applied."""

    def retried(real: Any, **kwargs: Any) -> Any:
        real(**kwargs)
        error = {"Error": {"Code": "AlreadyExistsException", "Message": "already exists"}}
        raise ClientError(error, "CreateChangeSet")

    client = _Wrapped(cfn, "create_change_set", retried)
    plan = plan_upgrade(STACK, target(tmp_path, with_resource()), client=client)
    assert [(c.action, c.logical_id) for c in plan.changes] == [("Add", "ClazarSqsDeadLetterQueue")]
    assert change_sets(cfn) == []
    kept = plan_upgrade(
        STACK, target(tmp_path, with_resource()), client=client, keep_change_set=True
    )
    assert apply_upgrade(kept, progress=lambda _: None, poll=0.01).ok


def test_a_stack_in_review_explains_what_it_is(cfn: Any, tmp_path: Path) -> None:
    from moto.cloudformation import cloudformation_backends

    cloudformation_backends[ACCOUNT][REGION].get_stack(STACK).status = "REVIEW_IN_PROGRESS"
    result = run("--stack", STACK, "--to", target(tmp_path, with_statement()))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "is REVIEW_IN_PROGRESS: it was made by a change set that was never executed" in line
    assert "wait until it ends" not in line
    assert "delete-stack --stack-name clazar" in line


@pytest.fixture
def needs_secret(aws: None, monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    """A stack whose upgrade needs a new ClazarSecretKey (as when the reporter runs again:
    moto runs no custom resource, so which secrets are fresh is injected), and the
    Parameters of every change set made."""
    import clazar_templates.aws.upgrade as upgrade_module

    client = boto3.client("cloudformation", region_name=REGION)
    create(client, with_secret("0.1.0"))
    monkeypatch.setattr(
        upgrade_module,
        "fresh_secrets",
        lambda new, changes, given, old=None: (
            () if "ClazarSecretKey" in given else ("ClazarSecretKey",)
        ),
    )
    made: list[list[dict[str, Any]]] = []
    real = upgrade_module.create_change_set

    def spy(cfn: Any, stack: str, template: Any, listed: Any, *rest: Any) -> Any:
        made.append(listed)
        return real(cfn, stack, template, listed, *rest)

    monkeypatch.setattr(upgrade_module, "create_change_set", spy)
    monkeypatch.delenv("CLAZAR_SECRET_KEY", raising=False)
    return made


def _secret_sent(listed: list[dict[str, Any]]) -> Any:
    (item,) = [p for p in listed if p["ParameterKey"] == "ClazarSecretKey"]
    return item.get("ParameterValue", "(previous)")


def test_the_secret_comes_from_the_environment(
    needs_secret: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAZAR_SECRET_KEY", NEW_SECRET)
    path = target(tmp_path, {**with_resource(), "Parameters": with_secret("0.2.0")["Parameters"]})
    result = run("--stack", STACK, "--to", path, "--apply")
    assert result.exit_code == 0, result.output
    assert [_secret_sent(listed) for listed in needs_secret] == ["(previous)", NEW_SECRET]
    assert NEW_SECRET not in result.output
    assert change_sets(boto3.client("cloudformation", region_name=REGION)) == [] or all(
        s["ExecutionStatus"] == "EXECUTE_COMPLETE"
        for s in change_sets(boto3.client("cloudformation", region_name=REGION))
    )


def test_the_secret_comes_from_a_hidden_prompt(
    needs_secret: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("clazar_templates.cli_args.has_terminal", lambda: True)
    path = target(tmp_path, {**with_resource(), "Parameters": with_secret("0.2.0")["Parameters"]})
    result = CliRunner().invoke(
        cli, ["upgrade", "--stack", STACK, "--to", path, "--apply"], input=NEW_SECRET + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "ClazarSecretKey (hidden)" in result.stderr
    assert NEW_SECRET not in result.output
    assert [_secret_sent(listed) for listed in needs_secret] == ["(previous)", NEW_SECRET]


def test_no_terminal_to_ask_on_says_so(needs_secret: list[Any], tmp_path: Path) -> None:
    path = target(tmp_path, {**with_resource(), "Parameters": with_secret("0.2.0")["Parameters"]})
    result = run("--stack", STACK, "--to", path, "--apply")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: CLAZAR_SECRET_KEY: ClazarSecretKey needs a new value and there is no terminal "
        "to ask for it on: set CLAZAR_SECRET_KEY in the environment"
    )
    assert "Aborted" not in result.output
    assert change_sets(boto3.client("cloudformation", region_name=REGION)) == []


def test_help_says_where_the_secret_comes_from() -> None:
    text = " ".join(CliRunner().invoke(cli, ["upgrade", "--help"]).output.split())
    assert "read from the environment (CLAZAR_SECRET_KEY) or else a hidden prompt" in text
    assert "--accept-removal" in text


def test_a_refused_upgrade_asks_for_no_secret(needs_secret: list[Any], tmp_path: Path) -> None:
    """Growth not accepted: the refusal is the answer, and no secret is asked for."""
    grows = {**with_statement(), "Parameters": with_secret("0.2.0")["Parameters"]}
    result = run("--stack", STACK, "--to", target(tmp_path, grows), "--apply")
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: not applied: permissions grow (see the permission changes): pass --accept-growth"
    )
    assert len(needs_secret) == 1  # one change set, made and deleted
    assert change_sets(boto3.client("cloudformation", region_name=REGION)) == []


@pytest.mark.parametrize("as_yaml", [False, True])
def test_our_own_build_as_a_file_is_not_modified_and_one_edit_is(
    tmp_path: Path, as_yaml: bool
) -> None:
    from clazar_templates import to_yaml
    from clazar_templates.aws.checks.recognise import identify
    from clazar_templates.aws.upgrade.stack import target_template

    built = build_marketplace()
    identity = identify(built.to_dict())
    path = tmp_path / ("t.yaml" if as_yaml else "t.json")
    path.write_text(to_yaml(built) if as_yaml else to_json(built), encoding="utf-8")
    _, source, _, modified = target_template(str(path), identity, None, "", None)
    assert not modified
    assert source.endswith("as this package builds it")
    edited = built.to_dict()
    edited["Resources"]["ClazarRole"]["Properties"]["MaxSessionDuration"] = 43200
    path.write_text(json.dumps(edited), encoding="utf-8")
    _, source, _, modified = target_template(str(path), identity, None, "", None)
    assert modified
    assert "Resources.ClazarRole changed (Properties.MaxSessionDuration)" in source


class _ChangeSets:
    """A CloudFormation client that records the create_change_set calls it gets."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create_change_set(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(kwargs)
        return {"Id": "arn:aws:cloudformation:us-east-1:123456789012:changeSet/x/1"}


def test_a_target_over_the_template_body_limit_goes_by_url_or_is_refused() -> None:
    """As data (moto takes a body of any size): over 51,200 bytes, the change set gets the
    published template's URL, or without one the upgrade is refused naming --bucket, before
    any call; at the limit, the body."""
    from clazar_templates.aws.upgrade import UpgradeError
    from clazar_templates.aws.upgrade.changeset import create_change_set
    from clazar_templates.template.render import TEMPLATE_BODY_LIMIT

    def target(size: int) -> dict[str, Any]:
        padding = size - len(json.dumps({"Description": ""}, separators=(",", ":")))
        return {"Description": "x" * padding}

    cfn = _ChangeSets()
    with pytest.raises(UpgradeError, match="--bucket") as refused:
        create_change_set(cfn, STACK, target(TEMPLATE_BODY_LIMIT + 1), [], "2.0.0")
    assert f"{TEMPLATE_BODY_LIMIT + 1:,} bytes" in str(refused.value)
    assert cfn.calls == []
    url = "https://b.s3.us-east-1.amazonaws.com/p/2.0.0/clazar-marketplace.yaml"
    create_change_set(cfn, STACK, target(TEMPLATE_BODY_LIMIT + 1), [], "2.0.0", lambda: url)
    create_change_set(cfn, STACK, target(TEMPLATE_BODY_LIMIT), [], "2.0.0")
    assert [("TemplateURL" in c, "TemplateBody" in c) for c in cfn.calls] == [
        (True, False),
        (False, True),
    ]
    assert cfn.calls[0]["TemplateURL"] == url
    assert len(cfn.calls[1]["TemplateBody"].encode()) == TEMPLATE_BODY_LIMIT


def test_an_upgrade_to_this_version_too_big_for_a_body_sends_its_published_url(
    cloudformation: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Role & Access template is over the TemplateBody limit: upgraded to this very
    version with --bucket, the change set takes the published template's URL; without
    --bucket the upgrade is refused, naming it, before any change set."""
    from clazar_templates.aws.publishing import DEFAULT_PREFIX, template_key
    from clazar_templates.template.render import TEMPLATE_BODY_LIMIT

    new = build_marketplace(MarketplaceOptions())
    assert len(json.dumps(json.loads(to_json(new)), separators=(",", ":"))) > TEMPLATE_BODY_LIMIT
    old = build_marketplace(MarketplaceOptions(version="0.9.0"))
    client = cloudformation.client
    create_with_every_parameter(cloudformation, old)

    with pytest.raises(UpgradeError, match="--bucket"):
        plan_upgrade(STACK, __version__, client=client)
    assert change_sets(client) == []

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="clazar-published")
    key = template_key(DEFAULT_PREFIX, __version__, "clazar-marketplace")
    s3.put_object(Bucket="clazar-published", Key=key, Body=to_json(new).encode())
    sent: list[dict[str, Any]] = []
    create = client.create_change_set

    def spy(**kwargs: Any) -> Any:
        sent.append(kwargs)
        return create(**kwargs)

    monkeypatch.setattr(client, "create_change_set", spy)
    plan = plan_upgrade(STACK, __version__, bucket="clazar-published", client=client)
    [call] = sent
    assert "TemplateBody" not in call
    assert call["TemplateURL"].endswith(f"/{key}")
    assert (plan.from_version, plan.to_version) == ("0.9.0", __version__)


def test_the_library_prints_nothing_unless_asked(
    cfn: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A service that imports apply_upgrade gets no stdout of ours (issue 25)."""
    plan = plan_upgrade(STACK, target(tmp_path, with_resource()), client=cfn, keep_change_set=True)
    assert apply_upgrade(plan, poll=0.01).ok
    assert capsys.readouterr() == ("", "")


def test_format_json_is_one_document_on_stdout(cfn: Any, tmp_path: Path) -> None:
    """Issue 25: the plan (and with --apply the result) as one JSON document; progress
    stays on stderr."""
    path = target(tmp_path, with_resource())
    planned = run("--stack", STACK, "--to", path, "--format", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    assert (plan["stack_name"], plan["to_version"], plan["result"]) == (STACK, "0.2.0", None)
    assert plan["permissions"]["grew"] is False
    assert [c["action"] for c in plan["changes"]] == ["Add"]
    assert change_sets(cfn) == []
    applied = run("--stack", STACK, "--to", path, "--apply", "--format", "json")
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.stdout)["result"]["status"] == "UPDATE_COMPLETE"
