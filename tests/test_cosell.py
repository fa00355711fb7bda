"""The Co-Sell template: roles created or reused, each kept in its catalog, and the report."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from clazar_templates import CosellOptions, build_cosell
from conftest import Deployment
from support import EXTERNAL_ID, VENDOR, as_dict, by_sid, deployed

SANDBOX_ARN = "arn:aws:iam::111122223333:role/partner/SellerSandbox"
CHOICES = ["", "SellerSandbox", SANDBOX_ARN]  # create, reuse by name, reuse by ARN


def trust(account: str = VENDOR, external_id: str | None = EXTERNAL_ID) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.parametrize("sandbox", CHOICES)
@pytest.mark.parametrize("production", CHOICES[:2])
def test_roles_created_or_reused_and_what_the_reporter_receives(
    sandbox: str, production: str
) -> None:
    made = deployed(build_cosell(), ExistingSandboxRole=sandbox, ExistingProductionRole=production)
    res = made["Resources"]
    assert ("SandboxRole" in res) is (sandbox == "")
    assert ("ProductionRole" in res) is (production == "")
    props = res["ClazarCosellReporter"]["Properties"]
    assert props["VerifyRoles"] == {
        "SandboxRole": sandbox or {"Fn::GetAtt": ["SandboxRole", "Arn"]},
        "ProductionRole": production or {"Fn::GetAtt": ["ProductionRole", "Arn"]},
    }
    assert (props["VendorAccountId"], props["ExternalId"]) == (VENDOR, EXTERNAL_ID)
    assert props["Report"]["SandboxRoleCreated"] == ("true" if sandbox == "" else "false")
    assert props["SecretKey"] != ""
    assert made["Outputs"]["SandboxRoleArn"]["Value"] == {
        "Fn::GetAtt": ["ClazarCosellReporter", "SandboxRoleArn"]
    }


def test_each_role_stays_in_its_catalog() -> None:
    res = deployed(build_cosell())["Resources"]
    sandbox, production = res["SandboxRole"]["Properties"], res["ProductionRole"]["Properties"]
    assert sandbox["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSPartnerCentralSandboxFullAccess"}
    ]
    assert production["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSPartnerCentralOpportunityManagement"}
    ]
    made = deployed(build_cosell())
    deny_aws = by_sid(made, "SandboxRole")["DenyProductionCatalog"]
    deny_sandbox = by_sid(made, "ProductionRole")["DenySandboxCatalog"]
    for deny, catalog in ((deny_aws, "AWS"), (deny_sandbox, "Sandbox")):
        assert deny["Effect"] == "Deny"
        assert deny["Action"] == ["partnercentral:*"]
        assert deny["Condition"] == {"StringEquals": {"partnercentral:Catalog": catalog}}
    for role in (sandbox, production):
        (st,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert st["Principal"] == {
            "AWS": {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::{VENDOR}:root"}
        }
        assert st["Condition"] == {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}


def test_reporter_may_read_roles_of_this_account_and_nothing_more() -> None:
    res = deployed(build_cosell())["Resources"]
    role = res["ClazarCosellReporterFunctionRole"]["Properties"]
    (policy,) = role["Policies"]
    sids = {st["Sid"]: st for st in policy["PolicyDocument"]["Statement"]}
    assert set(sids) == {"WriteOwnLogs", "ReadOwnStack", "ReadAccountRoles"}
    assert sids["ReadOwnStack"]["Action"] == ["cloudformation:DescribeStacks"]
    assert sids["ReadOwnStack"]["Resource"] == [{"Ref": "AWS::StackId"}]
    assert sids["ReadAccountRoles"]["Action"] == ["iam:GetRole"]
    assert sids["ReadAccountRoles"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"}
    ]
    assert sids["WriteOwnLogs"]["Resource"] == [
        {"Fn::GetAtt": ["ClazarCosellReporterLogGroup", "Arn"]}
    ]


def test_build_time_reuse_drops_the_parameter_and_the_role() -> None:
    options = CosellOptions(existing_sandbox_role=SANDBOX_ARN, existing_production_role="")
    template = as_dict(build_cosell(options))
    assert "ExistingSandboxRole" not in template["Parameters"]
    assert "ExistingProductionRole" not in template["Parameters"]
    assert "SandboxRole" not in template["Resources"]
    assert "ProductionRole" in template["Resources"]
    assert "Condition" not in template["Resources"]["ProductionRole"]
    verify = template["Resources"]["ClazarCosellReporter"]["Properties"]["VerifyRoles"]
    assert verify["SandboxRole"] == SANDBOX_ARN


def create_existing_role(name: str, path: str = "/", **trust_args: Any) -> str:
    role = boto3.client("iam").create_role(
        RoleName=name, Path=path, AssumeRolePolicyDocument=trust(**trust_args)
    )
    return str(role["Role"]["Arn"])


def iam_roles() -> set[str]:
    return {r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]}


@pytest.mark.slow
@pytest.mark.parametrize("sandbox", CHOICES)
@pytest.mark.parametrize("production", ["", "SellerProduction"])
def test_deploys_for_every_combination(
    cloudformation: Deployment, sandbox: str, production: str
) -> None:
    before = set()
    if sandbox:
        create_existing_role("SellerSandbox", path="/partner/")
    if production:
        create_existing_role("SellerProduction")
    before = iam_roles()
    stack = cloudformation.create(
        build_cosell(), ExistingSandboxRole=sandbox, ExistingProductionRole=production
    )
    assert stack["StackStatus"] == "CREATE_COMPLETE", cloudformation.failed(stack["StackId"])
    created = {r for r in iam_roles() - before if "Reporter" not in r}
    snapshot = {r for r in created if "ClazarResourceSnapshotJobRole" in r}
    assert len(snapshot) == 1  # CreateSnapshotJobRole is true by default
    assert len(created - snapshot) == (not sandbox) + (not production)
    outputs = cloudformation.outputs()
    if sandbox:
        assert outputs["SandboxRoleArn"] == SANDBOX_ARN  # the path is kept, even from a name
    (report,) = cloudformation.api.requests
    resources = report.json()["resources"]
    assert resources["SandboxRoleArn"] == outputs["SandboxRoleArn"]
    assert resources["ProductionRoleArn"] == outputs["ProductionRoleArn"]
    assert resources["SnapshotJobRoleArn"] == outputs["SnapshotJobRole"]
    assert resources["SnapshotJobRoleArn"].endswith("/" + snapshot.pop())
    assert ("ProductionRoleLacks" in resources) is bool(production)


@pytest.mark.slow
def test_a_reused_role_that_does_not_trust_clazar_fails_the_stack(
    cloudformation: Deployment,
) -> None:
    create_existing_role("SellerSandbox", external_id=None)
    stack = cloudformation.create(build_cosell(), ExistingSandboxRole="SellerSandbox")
    assert stack["StackStatus"] == "CREATE_FAILED"
    answer = cloudformation.failed(stack["StackId"])
    assert answer is not None
    assert "SandboxRole" in answer["Reason"]
    assert "SellerSandbox" in answer["Reason"]
    assert "external ID" in answer["Reason"]


SNAPSHOT_SERVICE = "resource-snapshot-job.partnercentral-selling.amazonaws.com"


def test_snapshot_job_role_trusts_partner_central_for_this_account_only() -> None:
    made = deployed(build_cosell())
    role = made["Resources"]["ClazarResourceSnapshotJobRole"]["Properties"]
    assert "RoleName" not in role  # IAM names are global: CloudFormation names it
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Sid": "TrustSnapshotJobService",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole"],
            "Principal": {"Service": SNAPSHOT_SERVICE},
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    ]
    assert role["ManagedPolicyArns"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/"
            "AWSPartnerCentralSellingResourceSnapshotJobExecutionRolePolicy"
        }
    ]
    assert "Policies" not in role
    report = made["Resources"]["ClazarCosellReporter"]["Properties"]["Report"]
    assert report["SnapshotJobRoleCreated"] == "true"
    assert report["SnapshotJobRoleArn"] == {"Fn::GetAtt": ["ClazarResourceSnapshotJobRole", "Arn"]}
    assert "ProductionRoleLacks" not in report


def test_production_role_registers_the_snapshot_role_and_the_sandbox_role_cannot() -> None:
    made = deployed(build_cosell())
    grants = by_sid(made, "ProductionRole")
    assert grants["RegisterSnapshotJobRole"] == {
        "Sid": "RegisterSnapshotJobRole",
        "Effect": "Allow",
        "Action": ["partnercentral:PutSellingSystemSettings"],
        "Resource": ["*"],
    }
    assert grants["PassSnapshotJobRole"] == {
        "Sid": "PassSnapshotJobRole",
        "Effect": "Allow",
        "Action": ["iam:PassRole"],
        "Resource": [{"Fn::GetAtt": ["ClazarResourceSnapshotJobRole", "Arn"]}],
        "Condition": {"StringEquals": {"iam:PassedToService": SNAPSHOT_SERVICE}},
    }
    assert grants["ReadOffersAndAgreements"] == {
        "Sid": "ReadOffersAndAgreements",
        "Effect": "Allow",
        "Action": ["aws-marketplace:ListEntities", "aws-marketplace:SearchAgreements"],
        "Resource": ["*"],
    }
    sandbox = json.dumps(made["Resources"]["SandboxRole"])
    for action in ("PutSellingSystemSettings", "PassRole", "aws-marketplace"):
        assert action not in sandbox


def test_without_the_snapshot_role_nothing_registers_or_passes_it() -> None:
    made = deployed(build_cosell(), CreateSnapshotJobRole="false")
    assert "ClazarResourceSnapshotJobRole" not in made["Resources"]
    assert "SnapshotJobRole" not in made.get("Outputs", {})
    grants = by_sid(made, "ProductionRole")
    assert "RegisterSnapshotJobRole" not in grants
    assert "PassSnapshotJobRole" not in grants
    assert "ReadOffersAndAgreements" in grants
    report = made["Resources"]["ClazarCosellReporter"]["Properties"]["Report"]
    assert report["SnapshotJobRoleCreated"] == "false"
    assert "SnapshotJobRoleArn" not in report


@pytest.mark.parametrize(
    ("snapshot", "lacks"),
    [
        (
            "true",
            "aws-marketplace:ListEntities aws-marketplace:SearchAgreements "
            "partnercentral:PutSellingSystemSettings iam:PassRole",
        ),
        ("false", "aws-marketplace:ListEntities aws-marketplace:SearchAgreements"),
    ],
)
def test_a_reused_production_role_is_not_modified_and_the_report_says_what_it_lacks(
    snapshot: str, lacks: str
) -> None:
    made = deployed(
        build_cosell(), ExistingProductionRole=SANDBOX_ARN, CreateSnapshotJobRole=snapshot
    )
    assert "ProductionRole" not in made["Resources"]
    assert not [
        r
        for r in made["Resources"].values()
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
    ]
    report = made["Resources"]["ClazarCosellReporter"]["Properties"]["Report"]
    assert report["ProductionRoleLacks"] == lacks
