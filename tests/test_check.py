"""``check`` against stacks deployed into moto's server: Connected, and broken setups as Error.

A deployment takes a few hundred milliseconds, so tests break several things in one stack
and expect exactly those failures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from clazar_templates import (
    MarketplaceOptions,
    __version__,
    build_cosell,
    build_marketplace,
    check,
    publish,
    to_json,
    to_yaml,
)
from clazar_templates._version import __version__ as VERSION
from clazar_templates.aws.checks import FAIL, OK, WARN, CheckReport
from clazar_templates.aws.checks.drift import statement_changes
from clazar_templates.aws.checks.recognise import identify, reference
from clazar_templates.cli import cli
from clazar_templates.options import API_ENDPOINTS, option_fields
from clazar_templates.stacks import STACKS
from clazar_templates.template import render
from clazar_templates.template.reading import load_template
from clazar_templates.template.resolve import resolve
from conftest import valid_value
from moto_deploy import deploy, finish_what_moto_skips, reporter_in_process
from support import DEPLOY_VALUES, EXTERNAL_ID, VENDOR

pytest_plugins = ["moto_server"]  # the aws_endpoint fixture
pytestmark = pytest.mark.slow

STACK = "clazar"
VENDOR_PROFILE = "vendor"  # defined in moto_server's AWS config


def clazar_trust() -> dict[str, Any]:
    """A reused role's statement trusting Clazar's account with the external ID (new each
    time: tests edit it)."""
    return {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{VENDOR}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
    }


@pytest.fixture(scope="module")
def session() -> Any:
    """One boto3 session for the module's library calls: a new one reloads every service
    model. (The command-line tests use fresh sessions, as the command does.)"""
    return boto3.Session()


@pytest.fixture
def reporter(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with reporter_in_process():
        yield


def deployed(build: Any = build_marketplace, **parameters: str) -> Any:
    """Deploy as ``STACK``, finish what moto skips, and return the template."""
    template = build()
    stack = deploy(template, STACK, **parameters)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    finish_what_moto_skips(template, stack, **parameters)
    return template


def statuses(report: CheckReport) -> dict[str, str]:
    return {r.subject: r.status for r in report.results}


def failures(report: CheckReport) -> list[str]:
    return [f"{r.subject}: {r.detail}" for r in report.results if r.status == FAIL]


def physical(logical: str) -> str:
    found = boto3.client("cloudformation").list_stack_resources(StackName=STACK)
    (resource,) = [r for r in found["StackResourceSummaries"] if r["LogicalResourceId"] == logical]
    return str(resource["PhysicalResourceId"])


def expected_subjects(template: Any, **parameters: str) -> set[str]:
    """What ``check`` must report on for the deployed template, derived from it."""
    data = template.to_dict()
    values = {k: v for k, v in {**DEPLOY_VALUES, **parameters}.items() if k in data["Parameters"]}
    subjects = {"stack", "outputs"}
    for logical, res in resolve(data, values)["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::S3::Bucket":
            subjects |= {f"bucket {physical(logical)} {w}" for w in ("encryption", "policy")}
            subjects.add(f"bucket {physical(logical)} public access")
        elif res["Type"] == "AWS::SNS::TopicPolicy":
            subjects.add(f"topic {physical(props['Topics'][0]['Ref']).split(':')[-1]} policy")
        elif res["Type"] == "AWS::SQS::QueuePolicy":
            subjects.add(f"queue {physical(props['Queues'][0]['Ref']).split('/')[-1]} policy")
        elif res["Type"] == "AWS::SNS::Subscription":
            subjects.add(f"subscription {physical(props['TopicArn']['Ref']).split(':')[-1]}")
    return subjects


def test_a_complete_marketplace_stack_is_connected(reporter: None) -> None:
    template = deployed(AllowMarketplaceAccess="true")
    lines: list[str] = []
    report = check(STACK, vendor_profile=VENDOR_PROFILE, progress=lines.append)
    assert report.summary == "Connected", lines
    assert lines == [str(r) for r in report.results]
    found = statuses(report)
    assert set(found.values()) == {OK}
    assert expected_subjects(template, AllowMarketplaceAccess="true") <= set(found)
    assert found["assume ClazarRole"] == OK
    details = {r.subject: r.detail for r in report.results}
    assert details["role ClazarRole trust"] == (
        f"Clazar's account {VENDOR}, external ID {EXTERNAL_ID}"
    )
    attached = boto3.client("iam").list_role_policies(RoleName="ClazarRole")["PolicyNames"]
    assert "ClazarMarketplaceAccessPolicy" in attached
    assert set(details["role ClazarRole policies"].split(", ")) == set(attached)

    without_vendor = check(STACK)
    assert without_vendor.connected
    assert [r.subject for r in without_vendor.results] == [
        r.subject for r in report.results if not r.subject.startswith("assume ")
    ]

    command = CliRunner().invoke(cli, ["check", "--stack", STACK, "--vendor-profile", "vendor"])
    assert command.exit_code == 0, command.output
    assert command.stdout.splitlines() == [*lines, "Connected"]


# --- breakages: each returns the failure it must cause ---------------------------------


def delete_role_policy() -> str:
    name = "ClazarKmsKeyAccessPolicy"
    boto3.client("iam").delete_role_policy(RoleName="ClazarRole", PolicyName=name)
    return f"role ClazarRole policy {name}: is missing"


def drop_a_statement() -> str:
    iam = boto3.client("iam")
    name = "ClazarS3AccessPolicy"
    document = iam.get_role_policy(RoleName="ClazarRole", PolicyName=name)["PolicyDocument"]
    dropped, *kept = document["Statement"]
    assert kept
    document["Statement"] = kept
    iam.put_role_policy(RoleName="ClazarRole", PolicyName=name, PolicyDocument=json.dumps(document))
    return (
        f"role ClazarRole policy {name}: differs from the template: "
        f"statement {dropped['Sid']} is missing"
    )


def remove_queue_policy() -> str:
    url = physical("ClazarSqsQueue")
    boto3.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    return f"queue {url.rsplit('/', 1)[-1]} policy: no policy"


def unsubscribe() -> str:
    sns = boto3.client("sns")
    (subscription,) = sns.list_subscriptions()["Subscriptions"]
    sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    topic = subscription["TopicArn"].rsplit(":", 1)[-1]
    return (
        f"subscription {topic}: SddsSnsSubscription: {subscription['Endpoint']} is not subscribed"
    )


def edit_trust(change: Callable[[dict[str, Any]], None]) -> None:
    iam = boto3.client("iam")
    trust = iam.get_role(RoleName="ClazarRole")["Role"]["AssumeRolePolicyDocument"]
    change(trust["Statement"][0])
    iam.update_assume_role_policy(RoleName="ClazarRole", PolicyDocument=json.dumps(trust))


def change_external_id() -> str:
    edit_trust(lambda st: st["Condition"]["StringEquals"].update({"sts:ExternalId": "other"}))
    return f"role ClazarRole trust: external ID is 'other', expected '{EXTERNAL_ID}'"


def trust_another_account() -> str:
    edit_trust(lambda st: st.update(Principal={"AWS": "arn:aws:iam::123456789012:root"}))
    return f"role ClazarRole trust: does not let Clazar's account {VENDOR} assume it"


def delete_bucket_policy() -> str:
    s3 = boto3.client("s3")
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.delete_bucket_policy(Bucket=bucket)
    return f"bucket {bucket} policy: no bucket policy (NoSuchBucketPolicy)"


def open_the_bucket() -> str:
    s3 = boto3.client("s3")
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={**block, "RestrictPublicBuckets": False}
    )
    return f"bucket {bucket} public access: not blocked: RestrictPublicBuckets"


def drop_topic_statement() -> str:
    sns = boto3.client("sns")
    (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "DenyInsecureTransport"]
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy)
    )
    return f"topic {topic.rsplit(':', 1)[-1]} policy: missing statements DenyInsecureTransport"


def test_every_breakage_is_reported_and_nothing_else(reporter: None, session: Any) -> None:
    deployed()
    reasons = [
        change_external_id(),
        delete_role_policy(),
        drop_a_statement(),
        remove_queue_policy(),
        drop_topic_statement(),
        delete_bucket_policy(),
        open_the_bucket(),
    ]
    report = check(STACK, session=session)
    (queue_gone,) = [f for f in failures(report) if f.startswith("subscription ")]
    assert queue_gone.endswith(": no queue policy lets this topic deliver")
    assert sorted(failures(report)) == sorted([*reasons, queue_gone])
    first = failures(report)[0]
    assert report.summary == f"Error: {first} (and {len(reasons)} more)"

    command = CliRunner().invoke(cli, ["check", "--stack", STACK, "--region", "us-east-1"])
    assert command.exit_code == 1
    assert command.stderr.splitlines() == [report.summary]  # results on stdout, the error not
    assert sum(line.startswith("FAIL ") for line in command.stdout.splitlines()) == len(
        failures(report)
    )


@pytest.mark.parametrize(("first", "second"), [(unsubscribe, trust_another_account)])
def test_one_breakage_is_the_reason(
    reporter: None, session: Any, first: Callable[[], str], second: Callable[[], str]
) -> None:
    deployed()
    reason = first()
    assert check(STACK, session=session).summary == f"Error: {reason}"
    other = second()
    assert sorted(failures(check(STACK, session=session))) == sorted([reason, other])


def test_a_missing_stack_is_an_error(aws_endpoint: str, session: Any) -> None:
    report = check("no-such-stack", session=session)
    assert [r.status for r in report.results] == [FAIL]
    assert report.summary == "Error: stack: no stack named no-such-stack exists in us-east-1"


def test_buckets_the_seller_brought_only_warn(reporter: None, session: Any) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="old-sdds-bucket")  # no policy, no public access block
    deployed(SddsBucketName="old-sdds-bucket")
    report = check(STACK, session=session)
    assert report.connected, report.reason
    found = statuses(report)
    assert found["bucket old-sdds-bucket policy"] == WARN
    assert found["bucket old-sdds-bucket public access"] == WARN
    assert not [s for s in found if s.startswith("bucket ") and "old-sdds" not in s]

    s3.put_bucket_policy(
        Bucket="old-sdds-bucket",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {  # "*", not a map: a seller's own policy may say anything
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::old-sdds-bucket/public/*",
                    },
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "reports.marketplace.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::old-sdds-bucket/*",
                    },
                ],
            }
        ),
    )
    assert statuses(check(STACK, session=session))["bucket old-sdds-bucket policy"] == OK


def test_a_cosell_stack_is_connected_until_a_managed_policy_goes(
    reporter: None, session: Any
) -> None:
    deployed(build=build_cosell)
    report = check(STACK, session=session, vendor_session=session)
    assert report.summary == "Connected", report.results
    assert sum(r.subject.endswith(" trust") for r in report.results) == 2
    assert sum(r.subject.startswith("assume ") for r in report.results) == 2
    policies = [r.detail for r in report.results if r.subject.endswith(" policies")]
    assert sorted(policies) == [
        "AWSPartnerCentralSellingResourceSnapshotJobExecutionRolePolicy",  # the snapshot role
        "StayInCatalog, AWSPartnerCentralSandboxFullAccess",
        "StayInCatalog, BeyondManagedPolicy, AWSPartnerCentralOpportunityManagement",
    ]

    iam = boto3.client("iam")
    role = physical("SandboxRole")
    (attached,) = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
    assert check(STACK, session=session).summary == (
        f"Error: role {role} policy AWSPartnerCentralSandboxFullAccess: "
        f"{attached['PolicyArn']} is not attached"
    )


def test_the_snapshot_job_role_and_the_production_grants_are_checked(
    reporter: None, session: Any
) -> None:
    deployed(build=build_cosell)
    assert check(STACK, session=session).connected
    iam = boto3.client("iam")
    snapshot = physical("ClazarResourceSnapshotJobRole")
    (attached,) = iam.list_attached_role_policies(RoleName=snapshot)["AttachedPolicies"]
    iam.detach_role_policy(RoleName=snapshot, PolicyArn=attached["PolicyArn"])
    policy = "AWSPartnerCentralSellingResourceSnapshotJobExecutionRolePolicy"
    assert failures(check(STACK, session=session)) == [
        f"role {snapshot} policy {policy}: {attached['PolicyArn']} is not attached"
    ]
    iam.attach_role_policy(RoleName=snapshot, PolicyArn=attached["PolicyArn"])
    production = physical("ProductionRole")
    iam.delete_role_policy(RoleName=production, PolicyName="BeyondManagedPolicy")
    assert failures(check(STACK, session=session)) == [
        f"role {production} policy BeyondManagedPolicy: is missing"
    ]


def test_a_changed_fulfillment_grant_is_a_failure(reporter: None, session: Any) -> None:
    deployed()  # AllowMarketplaceFulfillment defaults to true
    iam = boto3.client("iam")
    name = "ClazarMarketplaceFulfillmentPolicy"
    assert check(STACK, session=session).connected
    policy = iam.get_role_policy(RoleName="ClazarRole", PolicyName=name)["PolicyDocument"]
    grant = next(st for st in policy["Statement"] if st["Sid"] == "FulfillSaasCustomers")
    grant["Action"].remove("aws-marketplace:BatchMeterUsage")
    iam.put_role_policy(RoleName="ClazarRole", PolicyName=name, PolicyDocument=json.dumps(policy))
    (failure,) = failures(check(STACK, session=session))
    assert failure.startswith(f"role ClazarRole policy {name}: differs from the template")
    assert failure.endswith("FulfillSaasCustomers: Action drops aws-marketplace:batchmeterusage")


def test_a_reused_production_role_warns_of_what_the_stack_did_not_grant(
    reporter: None, session: Any
) -> None:
    trust = {"Version": "2012-10-17", "Statement": [clazar_trust()]}
    boto3.client("iam").create_role(RoleName="MyProd", AssumeRolePolicyDocument=json.dumps(trust))
    deployed(build=build_cosell, ExistingProductionRole="MyProd")
    report = check(STACK, session=session)
    assert report.connected, report.reason
    found = {r.subject: r for r in report.results}
    assert found["role MyProd grants"].status == WARN
    detail = found["role MyProd grants"].detail  # moto has no policy simulator
    assert detail.startswith("cannot tell what this reused role lacks (")
    assert detail.endswith(
        "the stack does not modify it: it needs aws-marketplace:ListEntities, "
        "aws-marketplace:SearchAgreements, partnercentral:PutSellingSystemSettings, "
        "iam:PassRole (see docs/permissions.md)"
    )


class FakeSimulator:
    """IAM's policy simulator for one role that is allowed ``allowed`` (action, resource)."""

    def __init__(self, allowed: set[tuple[str, str]]) -> None:
        self.allowed = allowed
        self.asked: list[tuple[str, str]] = []

    def simulate_principal_policy(self, **request: Any) -> dict[str, Any]:
        assert request["PolicySourceArn"] == "arn:aws:iam::111122223333:role/MyProd"
        ((action,), (resource,)) = request["ActionNames"], request["ResourceArns"]
        self.asked.append((action, resource))
        decision = "allowed" if (action, resource) in self.allowed else "implicitDeny"
        return {"EvaluationResults": [{"EvalActionName": action, "EvalDecision": decision}]}


def test_a_reused_roles_grants_are_what_the_simulator_allows() -> None:
    """PassRole is asked on the stack's snapshot job role; each missing action is named."""
    from clazar_templates.aws.checks.roles import check_reused_grants
    from clazar_templates.aws.checks.run import CheckRun

    snapshot = "arn:aws:iam::111122223333:role/clazar-ClazarResourceSnapshotJobRo-ABC"
    actions = ["aws-marketplace:ListEntities", "iam:PassRole"]
    for allowed, status, detail in [
        ({("aws-marketplace:ListEntities", "*"), ("iam:PassRole", snapshot)}, OK, "has "),
        ({("iam:PassRole", "*")}, WARN, "lacks aws-marketplace:ListEntities, iam:PassRole;"),
    ]:
        run = CheckRun(None, STACK, "us-east-1", lambda _line: None, {})
        run.outputs = {"SnapshotJobRole": snapshot}
        fake = FakeSimulator(allowed)
        check_reused_grants(run, fake, "MyProd", "arn:aws:iam::111122223333:role/MyProd", actions)
        (result,) = run.report.results
        assert (result.status, result.subject) == (status, "role MyProd grants")
        assert result.detail.startswith(detail)
        assert fake.asked == [("aws-marketplace:ListEntities", "*"), ("iam:PassRole", snapshot)]


def test_a_reused_cosell_role_is_checked_for_trust(reporter: None, session: Any) -> None:
    trust = {"Version": "2012-10-17", "Statement": [clazar_trust()]}
    iam = boto3.client("iam")
    iam.create_role(RoleName="MySandbox", AssumeRolePolicyDocument=json.dumps(trust))
    deployed(build=build_cosell, ExistingSandboxRole="MySandbox")
    report = check(STACK, session=session)
    assert report.connected, report.reason
    found = {r.subject: r for r in report.results}
    assert found["role MySandbox trust"].status == OK
    assert found["role MySandbox"].detail == "reused (not created by this stack)"

    del trust["Statement"][0]["Condition"]
    iam.update_assume_role_policy(RoleName="MySandbox", PolicyDocument=json.dumps(trust))
    assert check(STACK, session=session).summary == (
        f"Error: role MySandbox trust: trusts {VENDOR} without requiring the external ID"
    )


def test_a_reused_cosell_role_trusting_others_is_warned_and_one_anyone_may_assume_fails(
    reporter: None, session: Any
) -> None:
    """Issue 24, item 7: the whole trust policy is read, not its Clazar statement only."""
    other = {"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [clazar_trust(), other]}
    iam = boto3.client("iam")
    iam.create_role(RoleName="MySandbox", AssumeRolePolicyDocument=json.dumps(trust))
    deployed(build=build_cosell, ExistingSandboxRole="MySandbox")
    report = check(STACK, session=session)
    assert report.summary == "Connected"
    assert [str(r) for r in report.results if r.status == WARN] == [
        "warn role MySandbox trust: also lets AWS:444455556666 assume it"
    ]

    for change, detail in [
        ({"Principal": "*"}, 'any principal can assume it (Principal "*" or NotPrincipal)'),
        (
            {"Condition": {"StringEquals": {"sts:ExternalId": [EXTERNAL_ID, "theirs"]}}},
            f"external ID is {[EXTERNAL_ID, 'theirs']!r}, expected {EXTERNAL_ID!r}",
        ),
    ]:
        statements = (
            [clazar_trust(), {**other, **change}]
            if "Principal" in change
            else [{**clazar_trust(), **change}]
        )
        iam.update_assume_role_policy(
            RoleName="MySandbox", PolicyDocument=json.dumps({**trust, "Statement": statements})
        )
        assert check(STACK, session=session).summary == f"Error: role MySandbox trust: {detail}"


def test_command_refuses_an_unknown_vendor_profile(aws_endpoint: str) -> None:
    result = CliRunner().invoke(cli, ["check", "--stack", STACK, "--vendor-profile", "nobody"])
    assert result.exit_code == 2
    assert "--vendor-profile" in result.output
    assert "nobody" in result.output


def test_a_yaml_template_body_reads_as_the_template() -> None:
    """Stacks launched from the published YAML return it as text, short forms and all."""
    template = build_marketplace()
    assert load_template(to_yaml(template)) == json.loads(to_json(template))


# --- issue 15 item 8: only our template, as this version builds it, is Connected ----------


class Data(dict[str, Any]):
    """A template as plain data, deployable like a troposphere Template."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self)


ONE_QUEUE = Data(
    AWSTemplateFormatVersion="2010-09-09",
    Resources={"Queue": {"Type": "AWS::SQS::Queue"}},
)


def test_a_stack_that_is_not_ours_is_an_error(aws_endpoint: str, session: Any) -> None:
    """Today's check read its expectations from this template: ok stack, ok outputs, Connected."""
    deploy(ONE_QUEUE, STACK)
    result = CliRunner().invoke(cli, ["check", "--stack", STACK])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1] == (
        "FAIL template: not a Clazar stack: its template has no Metadata.Clazar "
        "(clazar-marketplace, clazar-cosell do)"
    )
    assert result.stderr == (
        "Error: template: not a Clazar stack: its template has no Metadata.Clazar "
        "(clazar-marketplace, clazar-cosell do)\n"
    )
    assert "Connected" not in result.output


def test_our_name_on_another_template_is_an_error(aws_endpoint: str, session: Any) -> None:
    forged = Data(ONE_QUEUE, Metadata={"Clazar": {"Template": "clazar-cosell", "Version": VERSION}})
    deploy(forged, STACK)
    report = check(STACK, session=session)
    assert not report.connected
    (line,) = failures(report)
    assert line.startswith(
        f"template: differs from clazar-cosell {VERSION} as this library builds it: "
    )
    assert "Resources.Queue added" in line
    assert "Resources.SandboxRole missing" in line


def test_our_template_with_a_resource_added_is_an_error(reporter: None, session: Any) -> None:
    """A grant slipped into the deployed template: today's check expected it, so said ok."""
    template = Data(build_marketplace().to_dict())
    template["Resources"] = {
        **template["Resources"],
        "Backdoor": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "Backdoor",
                "Roles": [{"Ref": "ClazarRole"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                },
            },
        },
    }
    deployed(lambda: template)
    report = check(STACK, session=session)
    assert failures(report) == [
        f"template: differs from clazar-marketplace {VERSION} as this library builds it: "
        "Resources.Backdoor added"
    ]


def test_a_variant_rendered_with_build_time_options_is_rebuilt(
    reporter: None, session: Any
) -> None:
    options = MarketplaceOptions(
        clazar_account_id=VENDOR, external_id=EXTERNAL_ID, enable_cas=True, role_name=""
    )
    deployed(lambda: build_marketplace(options))
    report = check(STACK, session=session)
    assert report.summary == "Connected", failures(report)
    assert {r.subject: r.detail for r in report.results}["template"] == (
        f"clazar-marketplace {VERSION} with build-time options clazar_account_id, external_id, "
        "role_name, enable_cas as this library builds it"
    )


@pytest.fixture
def unlinted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "lint", lambda text, *args: [])


def test_another_version_is_compared_with_its_published_template(
    reporter: None, session: Any, unlinted: None
) -> None:
    old = MarketplaceOptions(version="0.9.0")
    deployed(lambda: build_marketplace(old))
    without = check(STACK, session=session)
    assert failures(without) == [
        f"template: clazar-marketplace 0.9.0 is not this library's version ({VERSION}); pass "
        "--bucket (and --prefix) where 0.9.0 is published, or run check with "
        "clazar-templates 0.9.0"
    ]
    boto3.client("s3").create_bucket(Bucket="published-templates")
    publish("published-templates", prefix="cfn", version="0.9.0")
    found = check(STACK, session=session, bucket="published-templates", prefix="cfn")
    assert found.summary == "Connected", failures(found)
    assert {r.subject: r.detail for r in found.results}["template"] == (
        "clazar-marketplace 0.9.0 as published at "
        "s3://published-templates/cfn/0.9.0/clazar-marketplace.yaml"
    )
    (wrong,) = failures(check(STACK, session=session, bucket="published-templates"))
    assert wrong.startswith(
        "template: cannot read clazar-marketplace 0.9.0 from "
        "s3://published-templates/templates/0.9.0/clazar-marketplace.yaml ("
    )
    assert wrong.endswith("pass the --bucket and --prefix where 0.9.0 is published")


def test_another_versions_variant_cannot_be_checked_here(reporter: None, session: Any) -> None:
    deployed(lambda: build_marketplace(MarketplaceOptions(version="0.9.0", enable_cas=False)))
    (line,) = failures(check(STACK, session=session, bucket="anything"))
    assert line == (
        "template: clazar-marketplace 0.9.0 with build-time options enable_cas cannot be "
        f"rebuilt here: only clazar-templates 0.9.0 renders that variant (this is {VERSION}); run "
        "check with clazar-templates 0.9.0"
    )


# --- issue 12 section 4: permissions the stack did not grant ---------------------------


def test_permissions_added_to_the_clazar_role_are_warnings_one_line_each(
    reporter: None, session: Any
) -> None:
    """Today's check listed the role's policies by name and said ok."""
    deployed()
    iam = boto3.client("iam")
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_role_policy(
        RoleName="ClazarRole", PolicyName="Extra", PolicyDocument=json.dumps(everything)
    )
    iam.attach_role_policy(RoleName="ClazarRole", PolicyArn=admin)
    iam.put_role_permissions_boundary(RoleName="ClazarRole", PermissionsBoundary=admin)
    other = {
        "Sid": "AlsoThem",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sts:AssumeRole",
    }
    also = "arn:aws:iam::210987654321:root"

    def add_trust(statements: list[dict[str, Any]]) -> None:
        statements.append(other)
        statements[0]["Principal"]["AWS"] = [statements[0]["Principal"]["AWS"], also]

    edit_trust_statements(add_trust)
    report = check(STACK, session=session)
    assert report.summary == "Connected"  # Clazar works; the seller is told the rest
    assert [str(r) for r in report.results if r.status == WARN] == [
        "warn role ClazarRole trust: not created by this stack: statement TrustClazarAccount: "
        f"Principal adds AWS:{also}",
        "warn role ClazarRole trust: not created by this stack: statement AlsoThem was added "
        "(Allow AWS:arn:aws:iam::123456789012:root sts:assumerole)",
        "warn role ClazarRole policy Extra: not created by this stack: Allow * on *",
        f"warn role ClazarRole policy AdministratorAccess: {admin} attached, not by this stack",
        f"warn role ClazarRole boundary: {admin} was not set by this stack",
    ]


def edit_trust_statements(change: Callable[[list[dict[str, Any]]], None]) -> None:
    iam = boto3.client("iam")
    trust = iam.get_role(RoleName="ClazarRole")["Role"]["AssumeRolePolicyDocument"]
    change(trust["Statement"])
    iam.update_assume_role_policy(RoleName="ClazarRole", PolicyDocument=json.dumps(trust))


def widen(policy: str, sid: str, action: str) -> None:
    iam = boto3.client("iam")
    role = "ClazarRole"
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    (statement,) = [st for st in document["Statement"] if st["Sid"] == sid]
    statement["Action"] = [*statement["Action"], action]
    iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(document))


def test_a_changed_statement_is_a_failure_naming_what_changed(reporter: None, session: Any) -> None:
    """Same name, same Sids, one more action: today's check compared Sids only."""
    deployed()
    widen("ClazarS3AccessPolicy", "ReadFeedObjects", "s3:*")
    assert failures(check(STACK, session=session)) == [
        "role ClazarRole policy ClazarS3AccessPolicy: differs from the template: statement "
        "ReadFeedObjects: Action adds s3:*"
    ]


def test_permissions_added_to_cosell_roles_are_warnings(reporter: None, session: Any) -> None:
    deployed(build=build_cosell)
    iam = boto3.client("iam")
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    roles = [physical("SandboxRole"), physical("ProductionRole")]
    for role in roles:
        iam.attach_role_policy(RoleName=role, PolicyArn=admin)
    report = check(STACK, session=session)
    assert report.connected, failures(report)
    assert sorted(f"{r.subject}: {r.detail}" for r in report.results if r.status == WARN) == sorted(
        f"role {role} policy AdministratorAccess: {admin} attached, not by this stack"
        for role in roles
    )


def test_statements_compare_as_sets_of_what_they_grant() -> None:
    """Order, action case, one value or a list, false or "false": no difference."""
    ours = {
        "Statement": [
            {
                "Sid": "A",
                "Effect": "Deny",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"Bool": {"aws:SecureTransport": False}},
            }
        ]
    }
    theirs = {
        "Statement": {
            "Effect": "Deny",
            "Sid": "A",
            "Action": ["S3:PutObject", "s3:getobject"],
            "Resource": ["arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    }
    assert statement_changes(ours, theirs) == []
    theirs["Statement"]["Condition"] = {}
    assert statement_changes(ours, theirs) == [
        "statement A: Condition drops Bool aws:SecureTransport=false"
    ]


@pytest.mark.parametrize("short", sorted(STACKS))
def test_templates_record_only_the_options_fixed_at_build_time(short: str) -> None:
    """The published all-deploy-time templates carry no Options (they do not grow); a
    variant carries exactly what rebuilds it."""
    target = STACKS[short]
    default = target.build().to_dict()["Metadata"]["Clazar"]
    assert default == {"Template": target.name, "Version": __version__}
    fixed = {name: valid_value(spec) for name, spec in option_fields(target.options)}
    options = target.options(**fixed, api_url=API_ENDPOINTS["development"])
    template = json.loads(to_json(target.build(options)))
    assert template["Metadata"]["Clazar"]["Options"] == {
        **fixed,
        "api_url": API_ENDPOINTS["development"],
    }
    identity = identify(template)
    assert target.options(**identity.fixed) == options
    assert reference(identity)[0] == template
