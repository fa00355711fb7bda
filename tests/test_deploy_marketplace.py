"""The Role & Access template deployed into moto's CloudFormation."""

from __future__ import annotations

import ast
from typing import Any

import boto3
import pytest

from clazar_templates import MarketplaceOptions, build_marketplace
from clazar_templates.reporter import verify_signature
from conftest import Deployment
from support import ALWAYS_POLICIES, EXTERNAL_ID, VENDOR


def inventory(role: str = "ClazarRole") -> dict[str, Any]:
    iam = boto3.client("iam")
    return {
        "roles": {r["RoleName"] for r in iam.list_roles()["Roles"]},
        "policies": set(iam.list_role_policies(RoleName=role)["PolicyNames"]),
        "queues": len(boto3.client("sqs").list_queues().get("QueueUrls", [])),
        "topics": {
            t["TopicArn"].split(":")[-1] for t in boto3.client("sns").list_topics()["Topics"]
        },
        "buckets": len(boto3.client("s3").list_buckets()["Buckets"]),
        "keys": len(boto3.client("kms").list_keys()["Keys"]),
        "functions": [
            f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]
        ],
    }


FULFILLMENT = "ClazarMarketplaceFulfillmentPolicy"


@pytest.mark.slow
@pytest.mark.parametrize("allow", ["true", "false"])
def test_created_feeds(cloudformation: Deployment, allow: str) -> None:
    stack = cloudformation.create(build_marketplace(), AllowMarketplaceAccess=allow)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    found = inventory()
    assert "ClazarRole" in found["roles"]
    expected = ALWAYS_POLICIES | {FULFILLMENT}  # AllowMarketplaceFulfillment defaults to true
    expected |= {"ClazarMarketplaceAccessPolicy"} if allow == "true" else set()
    assert found["policies"] == expected
    assert found["queues"] == 2  # the queue and its dead-letter queue
    assert found["topics"] == {"clazar-sdds-clazar"}
    assert (found["buckets"], found["keys"], len(found["functions"])) == (1, 1, 1)

    trust = boto3.client("iam").get_role(RoleName="ClazarRole")["Role"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{VENDOR}:root"}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}

    (report,) = cloudformation.api.requests
    body = report.json()
    assert verify_signature(
        "s3cr3t-0123456789-abcdef",
        report.headers["x-clazar-timestamp"],
        report.body,
        report.headers["x-clazar-signature"],
    )
    assert body["resources"]["RoleArn"] == "arn:aws:iam::111122223333:role/ClazarRole"
    assert body["resources"]["MarketplaceAccess"] == allow
    outputs = cloudformation.outputs()
    assert outputs["SddsSnsTopicArn"].endswith(":clazar-sdds-clazar")
    assert outputs["ClazarRoleArn"] == body["resources"]["RoleArn"]


@pytest.mark.slow
def test_existing_feeds_create_no_buckets_topics_or_key(cloudformation: Deployment) -> None:
    topic = "arn:aws:sns:us-east-1:111122223333:old-sdds"
    stack = cloudformation.create(
        build_marketplace(),
        SddsSnsTopicArn=topic,
        SddsBucketName="old-sdds-bucket",
        EnableCas="true",
        CasSnsTopicArn="arn:aws:sns:us-east-1:111122223333:old-cas",
        CasBucketName="old-cas-bucket",
    )
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    found = inventory()
    assert (found["topics"], found["buckets"], found["keys"]) == (set(), 0, 0)
    assert found["policies"] == ALWAYS_POLICIES | {"ClazarGenerateCasPolicy", FULFILLMENT}
    s3_policy = boto3.client("iam").get_role_policy(
        RoleName="ClazarRole", PolicyName="ClazarS3AccessPolicy"
    )["PolicyDocument"]
    document = s3_policy if isinstance(s3_policy, dict) else ast.literal_eval(s3_policy)
    assert document["Statement"][0]["Resource"] == [
        "arn:aws:s3:::old-cas-bucket/*",
        "arn:aws:s3:::old-sdds-bucket/*",
    ]
    assert cloudformation.outputs()["SddsSnsTopicArn"] == topic


@pytest.mark.slow
def test_cas_created_and_build_time_options(cloudformation: Deployment) -> None:
    options = MarketplaceOptions(
        clazar_account_id=VENDOR,
        external_id=EXTERNAL_ID,
        enable_cas=True,
        role_name="SellerClazarRole",
    )
    stack = cloudformation.create(build_marketplace(options))
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    found = inventory("SellerClazarRole")
    assert "SellerClazarRole" in found["roles"]
    assert found["topics"] == {"clazar-cas-clazar", "clazar-sdds-clazar"}
    assert (found["buckets"], found["keys"]) == (2, 1)
