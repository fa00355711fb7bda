"""The Role & Access template, read as data: what a security reviewer must find."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clazar_templates import MarketplaceOptions, build_marketplace
from clazar_templates import policies as p
from support import (
    EXTERNAL_ID,
    VENDOR,
    as_dict,
    by_sid,
    deployed,
    listed,
    resources,
    role_statements,
)

CAS_TOPIC = "arn:aws:sns:eu-west-1:111122223333:old-cas"
SDDS_TOPIC = "arn:aws:sns:us-west-2:111122223333:old-sdds"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return as_dict(build_marketplace())


def test_every_parameter_is_on_the_console_form_and_safe_by_default(
    template: dict[str, Any],
) -> None:
    params = template["Parameters"]
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for group in interface["ParameterGroups"] for p in group["Parameters"]]
    assert sorted(grouped) == sorted(params)
    assert set(interface["ParameterLabels"]) == set(params)
    assert params["ClazarAccountId"]["AllowedPattern"] == "^[0-9]{12}$"
    assert "NoEcho" not in params["ExternalId"]
    assert (params["ExternalId"]["MinLength"], params["ExternalId"]["MaxLength"]) == (2, 1224)
    assert params["ClazarSecretKey"]["NoEcho"] is True
    assert params["AllowMarketplaceAccess"]["Default"] == "false"
    assert params["EnableCas"]["Default"] == "false"
    for name in ("CasSnsTopicArn", "CasBucketName", "SddsSnsTopicArn", "SddsBucketName"):
        assert params[name]["Default"] == ""


def test_no_arn_hard_codes_a_partition(template: dict[str, Any]) -> None:
    assert "arn:aws:" not in json.dumps(template)


def test_trust_policy_admits_only_the_vendor_with_the_external_id() -> None:
    role = deployed(build_marketplace())["Resources"]["ClazarRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow"
    assert trust["Action"] == ["sts:AssumeRole"]
    assert trust["Principal"] == {"AWS": {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::{VENDOR}:root"}}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}
    assert role["RoleName"] == "ClazarRole"


def test_role_policies_are_scoped_to_their_own_resources() -> None:
    sids = by_sid(deployed(build_marketplace()), "ClazarRole")
    assert sids["ReadOwnRole"]["Resource"] == [{"Fn::GetAtt": ["ClazarRole", "Arn"]}]
    assert "iam:PassRole" not in sids["ReadOwnRole"]["Action"]
    assert sids["ConsumeQueue"]["Resource"] == [
        {"Fn::GetAtt": ["ClazarSqsQueue", "Arn"]},
        {"Fn::GetAtt": ["ClazarSqsDeadLetterQueue", "Arn"]},
    ]
    assert sids["SubscribeMarketplaceTopics"]["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:sns:us-east-1:287250355862:"
            "aws-mp-subscription-notification-*"
        },
        {
            "Fn::Sub": "arn:${AWS::Partition}:sns:us-east-1:287250355862:"
            "aws-mp-entitlement-notification-*"
        },
    ]
    assert sids["ReadFeedObjects"] == {
        "Sid": "ReadFeedObjects",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [{"Fn::Sub": "${SddsBucket.Arn}/*"}],
    }
    assert sids["ListFeedBuckets"]["Action"] == ["s3:ListBucket", "s3:GetBucketLocation"]
    assert "s3:GetBucketRegion" not in json.dumps(sids)


def test_kms_access_is_decrypt_under_the_bucket_encryption_context() -> None:
    sids = by_sid(deployed(build_marketplace()), "ClazarRole")
    decrypt = sids["DecryptFeedObjects"]
    assert decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Resource"] == [{"Fn::GetAtt": ["ClazarKmsKey", "Arn"]}]
    # S3 Bucket Keys are on, so the context is the bucket ARN (not the object ARN).
    assert decrypt["Condition"] == {
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [{"Fn::GetAtt": ["SddsBucket", "Arn"]}]}
    }
    bucket = resources(build_marketplace(), "AWS::S3::Bucket")["SddsBucket"]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert "DecryptExistingFeedObjects" not in sids


def test_existing_buckets_are_decrypted_only_via_s3_for_those_buckets() -> None:
    sids = by_sid(deployed(build_marketplace(), SddsBucketName="old-sdds"), "ClazarRole")
    existing = sids["DecryptExistingFeedObjects"]
    assert existing["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"}
    ]
    assert existing["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:s3:arn": [
            {"Fn::Sub": "arn:${AWS::Partition}:s3:::old-sdds"},
            {"Fn::Sub": "arn:${AWS::Partition}:s3:::old-sdds/*"},
        ],
        "kms:ViaService": "s3.*.amazonaws.com",
    }
    assert "DecryptFeedObjects" not in sids  # no bucket created, no key statement


@pytest.mark.parametrize("allow", ["true", "false"])
def test_marketplace_access_policy_only_when_allowed(allow: str) -> None:
    made = deployed(build_marketplace(), AllowMarketplaceAccess=allow)["Resources"]
    assert ("ClazarMarketplaceAccessPolicy" in made) is (allow == "true")
    if allow == "true":
        grant, deny = made["ClazarMarketplaceAccessPolicy"]["Properties"]["PolicyDocument"][
            "Statement"
        ]
        assert grant["Action"] == [
            "aws-marketplace:*",
            "aws-marketplace-management:*",
            "vendor-insights:*",
        ]
        assert (deny["Sid"], deny["Effect"]) == ("DenyBeyondSelling", "Deny")
    report = made["ClazarReporter"]["Properties"]
    assert report["Report"]["MarketplaceAccess"] == allow


CAS_RESOURCES = {"CasBucket", "CasSnsTopic", "CasSnsSubscription", "ClazarGenerateCasPolicy"}


def test_cas_is_off_by_default_and_complete_when_enabled() -> None:
    off = deployed(build_marketplace())["Resources"]
    assert not CAS_RESOURCES & set(off)
    on = deployed(build_marketplace(), EnableCas="true")
    assert set(on["Resources"]) >= CAS_RESOURCES
    sids = by_sid(on, "ClazarRole")
    assert sids["GenerateCasDataSets"]["Action"] == ["marketplacecommerceanalytics:GenerateDataSet"]
    assert sids["PassRoleToCas"] == {
        "Sid": "PassRoleToCas",
        "Effect": "Allow",
        "Action": ["iam:PassRole"],
        "Resource": [{"Fn::GetAtt": ["ClazarRole", "Arn"]}],
        "Condition": {
            "StringEquals": {"iam:PassedToService": "marketplacecommerceanalytics.amazonaws.com"}
        },
    }
    assert {"Ref": "CasSnsTopic"} in sids["SubscribeFeedTopics"]["Resource"]


def test_existing_topics_and_buckets_replace_created_ones_everywhere() -> None:
    made = deployed(
        build_marketplace(),
        EnableCas="true",
        CasSnsTopicArn=CAS_TOPIC,
        SddsSnsTopicArn=SDDS_TOPIC,
        CasBucketName="old-cas",
        SddsBucketName="old-sdds",
    )
    res = made["Resources"]
    assert not {"CasBucket", "CasSnsTopic", "SddsBucket", "SddsSnsTopic", "ClazarKmsKey"} & set(res)
    assert res["CasSnsSubscription"]["Properties"]["TopicArn"] == CAS_TOPIC
    assert res["CasSnsSubscription"]["Properties"]["Region"] == "eu-west-1"
    assert res["SddsSnsSubscription"]["Properties"]["Region"] == "us-west-2"
    sids = by_sid(made, "ClazarRole")
    assert sids["SubscribeFeedTopics"]["Resource"] == [CAS_TOPIC, SDDS_TOPIC]
    assert sids["ReadFeedObjects"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::old-cas/*"},
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::old-sdds/*"},
    ]
    send = res["ClazarSqsSendPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert send["Condition"]["ArnLike"]["aws:SourceArn"][:2] == [CAS_TOPIC, SDDS_TOPIC]
    outputs = made["Outputs"]
    assert outputs["CasSnsTopicArn"]["Value"] == CAS_TOPIC
    assert outputs["SddsBucketName"]["Value"] == "old-sdds"
    assert "ClazarKmsKeyArn" not in outputs


def test_created_buckets_are_retained_encrypted_private_and_tls_only() -> None:
    made = deployed(build_marketplace(), EnableCas="true")["Resources"]
    for name in ("CasBucket", "SddsBucket"):
        bucket = made[name]
        assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
        props = bucket["Properties"]
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": {"Fn::GetAtt": ["ClazarKmsKey", "Arn"]},
        }
        assert all(props["PublicAccessBlockConfiguration"].values())
        policy = made[f"{name}Policy"]["Properties"]["PolicyDocument"]
        write, deny = policy["Statement"]
        assert write["Principal"] == {"Service": "reports.marketplace.amazonaws.com"}
        assert write["Action"] == ["s3:PutObject"]
        assert write["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        }
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": False}}  # a boolean
    key = made["ClazarKmsKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"  # the retained buckets stay readable
    topics = [made["CasSnsTopic"], made["SddsSnsTopic"]]
    assert [t["Properties"]["TopicName"] for t in topics] == [
        {"Fn::Sub": "clazar-cas-${AWS::StackName}"},
        {"Fn::Sub": "clazar-sdds-${AWS::StackName}"},
    ]


def test_queue_takes_sns_deliveries_and_has_a_dead_letter_queue() -> None:
    made = deployed(build_marketplace())["Resources"]
    queue = made["ClazarSqsQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in queue
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["ClazarSqsDeadLetterQueue", "Arn"]
    }
    statements = made["ClazarSqsSendPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    sids = {st["Sid"]: st for st in statements}
    send, deny = sids["DeliverTopicsToQueue"], sids["DenyInsecureTransport"]
    assert send["Principal"] == {"Service": "sns.amazonaws.com"}
    assert send["Action"] == ["sqs:SendMessage"]
    sources = send["Condition"]["ArnLike"]["aws:SourceArn"]
    assert sources[0] == {"Ref": "SddsSnsTopic"}
    assert all("287250355862:aws-mp-" in s["Fn::Sub"] for s in sources[1:])
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": False}}


def test_outputs_carry_everything_the_platform_needs() -> None:
    outputs = deployed(build_marketplace(), EnableCas="true")["Outputs"]
    assert set(outputs) >= {
        "ClazarRoleArn",
        "ExternalId",
        "ClazarSqsQueueUrl",
        "ClazarSqsQueueArn",
        "CasBucketName",
        "CasSnsTopicArn",
        "SddsBucketName",
        "SddsSnsTopicArn",
        "ClazarKmsKeyArn",
    }
    assert outputs["ExternalId"]["Value"] == EXTERNAL_ID


def test_build_time_options_drop_their_parameters_and_resources() -> None:
    options = MarketplaceOptions(
        clazar_account_id=VENDOR,
        external_id=EXTERNAL_ID,
        role_name="SellerRole",
        allow_marketplace_access=False,
        allow_marketplace_fulfillment=False,
        enable_cas=False,
        sdds_sns_topic_arn=SDDS_TOPIC,
        sdds_bucket_name="old-sdds",
        enable_event_bridge=False,
    )
    template = as_dict(build_marketplace(options))
    assert set(template["Parameters"]) == {"ClazarAccountUid", "ClazarSecretKey"}
    assert "Conditions" not in template
    res = template["Resources"]
    dropped = {"ClazarMarketplaceAccessPolicy", FULFILLMENT, "ClazarKmsKey", "CasBucket"}
    assert not {*dropped, "SddsBucket"} & set(res)
    assert res["ClazarRole"]["Properties"]["RoleName"] == "SellerRole"
    assert res["SddsSnsSubscription"]["Properties"]["TopicArn"] == SDDS_TOPIC
    assert template["Metadata"]["Clazar"]["Version"] == options.version


def test_every_identity_statement_has_a_sid_and_no_star_action_outside_the_opt_in() -> None:
    made = deployed(build_marketplace(), AllowMarketplaceAccess="true", EnableCas="true")
    for policy, st in role_statements(made, "ClazarRole"):
        assert st["Sid"], policy
        if policy != "ClazarMarketplaceAccessPolicy":
            assert not any(a == "*" or a.endswith(":*") for a in listed(st["Action"])), st


def test_empty_role_name_lets_cloudformation_name_the_role() -> None:
    """For several regions of one account (a StackSet): IAM names are account-wide."""
    role = deployed(build_marketplace(), ClazarRoleName="")["Resources"]["ClazarRole"]
    assert "RoleName" not in role["Properties"]
    built = as_dict(build_marketplace(MarketplaceOptions(role_name="")))
    assert "RoleName" not in built["Resources"]["ClazarRole"]["Properties"]
    assert "ClazarRoleName" not in built["Parameters"]


# --- Grants that work on real AWS (issue 12) ------------------------------------------------

UNSCOPABLE = {"sns:Unsubscribe", "sns:GetSubscriptionAttributes"}  # no resource type in AWS


def test_no_sns_grant_names_an_action_that_takes_no_topic() -> None:
    """On a topic ARN these grants were dead; on "*" they would reach every subscription."""
    made = deployed(build_marketplace(), EnableCas="true")
    for policy, st in role_statements(made, "ClazarRole"):
        assert not UNSCOPABLE & set(listed(st["Action"])), (policy, st["Sid"])
    assert set(p.NOT_GRANTED) == UNSCOPABLE
    assert all(w.why and w.instead for w in p.NOT_GRANTED.values())


@pytest.mark.parametrize("cas", ["true", "false"])
def test_subscribe_is_only_for_the_stacks_queue_over_sqs(cas: str) -> None:
    made = deployed(build_marketplace(), EnableCas=cas)
    subscribing = [
        st for _, st in role_statements(made, "ClazarRole") if "sns:Subscribe" in st["Action"]
    ]
    assert {st["Sid"] for st in subscribing} == {
        "SubscribeMarketplaceTopics",
        "SubscribeFeedTopics",
    }
    sids = by_sid(made, "ClazarRole")
    for st in subscribing:
        assert st["Action"] == ["sns:Subscribe"]  # the keys below exist for Subscribe only
        assert st["Condition"] == {
            "StringEquals": {
                "sns:Protocol": "sqs",
                "sns:Endpoint": {"Fn::GetAtt": ["ClazarSqsQueue", "Arn"]},
            }
        }
        check = sids[st["Sid"].replace("Subscribe", "Check")]
        assert check["Resource"] == st["Resource"]
        assert check["Action"] == ["sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"]
        assert "Condition" not in check
    feed_topics = sids["SubscribeFeedTopics"]["Resource"]
    assert ({"Ref": "CasSnsTopic"} in feed_topics) is (cas == "true")


ISSUE_DENIES = {
    "aws-marketplace-management:PutBankAccountVerificationDetails",
    "aws-marketplace-management:PutSellerVerificationDetails",
    "aws-marketplace-management:PutSecondaryUserVerificationDetails",
    "aws-marketplace:Subscribe",
    "aws-marketplace:Unsubscribe",
    "aws-marketplace:CreateAgreementRequest",
    "aws-marketplace:AcceptAgreementRequest",
    "aws-marketplace:AcceptAgreementPaymentRequest",
    "aws-marketplace:UpdatePurchaseOrders",
    "aws-marketplace:AssociateProductsWithPrivateMarketplace",
    "aws-marketplace:PutProcurementSystemConfiguration",
    "aws-marketplace:PutResourcePolicy",
    "aws-marketplace:DeleteResourcePolicy",
}


def test_the_marketplace_opt_in_denies_what_a_seller_platform_never_needs() -> None:
    made = deployed(build_marketplace(), AllowMarketplaceAccess="true")
    statements = [st for name, st in role_statements(made, "ClazarRole")]
    (deny,) = [st for st in statements if st["Effect"] == "Deny"]
    assert deny["Sid"] == "DenyBeyondSelling"
    assert deny["Resource"] == ["*"]
    assert "Condition" not in deny
    assert deny["Action"] == list(p.MARKETPLACE_DENIED)
    assert set(deny["Action"]) >= ISSUE_DENIES
    assert all(why.strip() for why in p.MARKETPLACE_DENIED.values())
    assert not any("*" in action for action in deny["Action"])  # each one named


FULFILLMENT = "ClazarMarketplaceFulfillmentPolicy"


@pytest.mark.parametrize("allow", ["true", "false"])
def test_fulfillment_is_on_by_default_and_its_own_policy(allow: str) -> None:
    """Clazar can provision, meter and deprovision SaaS customers without the listing opt-in:
    exactly these actions, DescribeEntity on the seller's own catalog, and nothing with
    false (AllowMarketplaceAccess untouched either way)."""
    assert (
        as_dict(build_marketplace())["Parameters"]["AllowMarketplaceFulfillment"]["Default"]
        == "true"
    )
    made = deployed(build_marketplace(), AllowMarketplaceFulfillment=allow)
    res = made["Resources"]
    assert (FULFILLMENT in res) is (allow == "true")
    assert "ClazarMarketplaceAccessPolicy" not in res  # the listing opt-in stays off
    assert res["ClazarReporter"]["Properties"]["Report"]["MarketplaceFulfillment"] == allow
    if allow == "false":
        return
    grants = by_sid(made, "ClazarRole")
    assert grants["FulfillSaasCustomers"] == {
        "Sid": "FulfillSaasCustomers",
        "Effect": "Allow",
        "Action": [
            "aws-marketplace:ResolveCustomer",
            "aws-marketplace:GetEntitlements",
            "aws-marketplace:BatchMeterUsage",
            "aws-marketplace:DescribeAgreement",
            "aws-marketplace:GetAgreementTerms",
            "aws-marketplace:SearchAgreements",
            "aws-marketplace:ListEntities",
        ],
        "Resource": ["*"],
    }
    assert grants["ReadCatalogEntities"] == {
        "Sid": "ReadCatalogEntities",
        "Effect": "Allow",
        "Action": ["aws-marketplace:DescribeEntity"],
        "Resource": [
            {
                "Fn::Sub": "arn:${AWS::Partition}:aws-marketplace:us-east-1:${AWS::AccountId}:"
                "AWSMarketplace/*"
            }
        ],
    }
    assert {"Ref": FULFILLMENT} in res["ClazarReporter"]["Properties"]["Policies"]
    skips = res[FULFILLMENT]["Metadata"]["guard"]["SuppressedRules"]
    assert skips == ["IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE", "IAM_NO_INLINE_POLICY_CHECK"]


def test_every_action_on_star_has_its_reason_in_the_code() -> None:
    """An action granted on "*" outside the opt-in must be in RESOURCELESS with a reason; a
    statement factory given another one refuses to build."""
    assert all(len(why) > 40 for why in p.RESOURCELESS.values())
    with pytest.raises(ValueError, match="needs a reason in RESOURCELESS"):
        p._resourceless(p.Action("aws-marketplace", "StartChangeSet"))


def lifecycle(template: dict[str, Any], bucket: str = "SddsBucket") -> list[dict[str, Any]]:
    return template["Resources"][bucket]["Properties"]["LifecycleConfiguration"]["Rules"]


ABORT = {
    "Id": "AbortIncompleteUploads",
    "Status": "Enabled",
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
}


def expire(days: Any) -> dict[str, Any]:
    return {
        "Id": "ExpireNoncurrentVersions",
        "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": days},
    }


@pytest.mark.parametrize(("days", "rules"), [("365", [ABORT, expire("365")]), ("0", [ABORT])])
def test_created_buckets_expire_noncurrent_versions_and_abandoned_uploads(
    days: str, rules: list[dict[str, Any]]
) -> None:
    """The seller's days (a Number, at least 0, 365 by default), 0 keeping every version;
    current objects never expire (no Expiration in any rule), for both created buckets."""
    param = as_dict(build_marketplace())["Parameters"]["NoncurrentVersionDays"]
    assert (param["Type"], param["MinValue"], param["Default"]) == ("Number", 0, "365")
    made = deployed(build_marketplace(), EnableCas="true", NoncurrentVersionDays=days)
    for bucket in ("CasBucket", "SddsBucket"):
        assert lifecycle(made, bucket) == rules
        assert "Expiration" not in json.dumps(lifecycle(made, bucket)).replace("VersionExp", "")


@pytest.mark.parametrize(("days", "rules"), [(30, [ABORT, expire(30)]), (0, [ABORT])])
def test_build_time_days_drop_the_parameter(days: int, rules: list[dict[str, Any]]) -> None:
    template = as_dict(build_marketplace(MarketplaceOptions(noncurrent_version_days=days)))
    assert "NoncurrentVersionDays" not in template["Parameters"]
    assert "KeepNoncurrentVersions" not in template.get("Conditions", {})
    assert lifecycle(template) == rules


def test_given_buckets_are_not_ours_to_expire() -> None:
    options = MarketplaceOptions(enable_cas=False, sdds_bucket_name="seller-sdds-bucket")
    template = as_dict(build_marketplace(options))
    assert "SddsBucket" not in template["Resources"]
    assert "NoncurrentVersionDays" not in template["Parameters"]  # no bucket uses it
