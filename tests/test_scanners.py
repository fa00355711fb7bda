"""What a seller's scanners see: checkov and AWS's Guard Rules Registry (cfn-guard) agree.

Every checkov skip on a resource has its Guard twin on the same resource, and every Guard
suppression is a checkov skip's twin or a reviewed Guard-only choice. The registry's rule
files are not reachable here, so what each rule flags is written below from AWS-NOTES (rule
names as the registry spells them), and every resource it would flag must carry the
suppression: a new queue, bucket, function or inline policy without one fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from clazar_templates.stacks import STACKS
from clazar_templates.stacks.suppressions import ALL
from support import as_dict
from test_policy_safety import CASES, flat, statements

REGISTRY = {
    # The registry rules that fail on these templates without a suppression (AWS-NOTES).
    "CLOUDWATCH_LOG_GROUP_ENCRYPTED",
    "IAM_NO_INLINE_POLICY_CHECK",
    "IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE",
    "LAMBDA_CONCURRENCY_CHECK",
    "LAMBDA_DLQ_CHECK",
    "LAMBDA_INSIDE_VPC",
    "S3_BUCKET_DEFAULT_LOCK_ENABLED",
    "S3_BUCKET_LOGGING_ENABLED",
    "S3_BUCKET_NO_PUBLIC_RW_ACL",
    "S3_BUCKET_REPLICATION_ENABLED",
    "S3_BUCKET_SSL_REQUESTS_ONLY",
    "SQS_QUEUE_KMS_MASTER_KEY_ID_RULE",
}
TWINS = {
    # checkov check -> the Guard rule that reports the same finding
    "CKV_AWS_18": "S3_BUCKET_LOGGING_ENABLED",
    "CKV_AWS_27": "SQS_QUEUE_KMS_MASTER_KEY_ID_RULE",
    "CKV_AWS_109": "IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE",
    "CKV_AWS_111": "IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE",
    "CKV_AWS_115": "LAMBDA_CONCURRENCY_CHECK",
    "CKV_AWS_116": "LAMBDA_DLQ_CHECK",
    "CKV_AWS_117": "LAMBDA_INSIDE_VPC",
    "CKV_AWS_158": "CLOUDWATCH_LOG_GROUP_ENCRYPTED",
}
GUARD_ONLY = {
    # Guard rules with no checkov twin here, each a reviewed design choice (README's table)
    "IAM_NO_INLINE_POLICY_CHECK",
    "IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE",  # where "*" is all AWS offers (GenerateDataSet)
    "S3_BUCKET_DEFAULT_LOCK_ENABLED",
    "S3_BUCKET_NO_PUBLIC_RW_ACL",
    "S3_BUCKET_REPLICATION_ENABLED",
}
FIXED = {"S3_BUCKET_SSL_REQUESTS_ONLY"}  # fixed in the templates, never suppressed


def suppressions(resource: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    """(checkov id -> comment, Guard rules) written on ``resource``."""
    metadata = resource.get("Metadata", {})
    skips = {s["id"]: s["comment"] for s in metadata.get("checkov", {}).get("skip", [])}
    return skips, set(metadata.get("guard", {}).get("SuppressedRules", []))


def flagged(logical: str, resource: dict[str, Any], template: dict[str, Any]) -> set[str]:
    """The registry rules (as AWS-NOTES describes them) that ``resource`` would fail."""
    kind, props = resource["Type"], resource.get("Properties", {})
    rules = set()
    if kind == "AWS::SQS::Queue" and "KmsMasterKeyId" not in props:
        rules.add("SQS_QUEUE_KMS_MASTER_KEY_ID_RULE")
    if kind == "AWS::Logs::LogGroup" and "KmsKeyId" not in props:
        rules.add("CLOUDWATCH_LOG_GROUP_ENCRYPTED")
    if kind == "AWS::Lambda::Function":
        for prop, rule in (
            ("ReservedConcurrentExecutions", "LAMBDA_CONCURRENCY_CHECK"),
            ("DeadLetterConfig", "LAMBDA_DLQ_CHECK"),
            ("VpcConfig", "LAMBDA_INSIDE_VPC"),
        ):
            if prop not in props:
                rules.add(rule)
    if kind == "AWS::S3::Bucket":
        for prop, rule in (
            ("LoggingConfiguration", "S3_BUCKET_LOGGING_ENABLED"),
            ("ObjectLockEnabled", "S3_BUCKET_DEFAULT_LOCK_ENABLED"),
            ("ReplicationConfiguration", "S3_BUCKET_REPLICATION_ENABLED"),
            ("AccessControl", "S3_BUCKET_NO_PUBLIC_RW_ACL"),
        ):
            if prop not in props:
                rules.add(rule)
    if kind == "AWS::IAM::Policy" or (kind == "AWS::IAM::Role" and "Policies" in props):
        rules.add("IAM_NO_INLINE_POLICY_CHECK")
    for found in statements({"Resources": {logical: resource}}):
        st = found.statement
        if found.kind == "identity" and st["Effect"] == "Allow" and "*" in flat(st["Resource"]):
            rules.add("IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE")
    return rules


@pytest.mark.parametrize(("short", "options"), CASES)
def test_checkov_and_guard_suppress_the_same_findings(short: str, options: Any) -> None:
    template = as_dict(STACKS[short].build(options))
    for logical, resource in template["Resources"].items():
        skips, rules = suppressions(resource)
        twins = {TWINS[check] for check in skips}  # KeyError: a checkov skip without a twin
        assert twins <= rules, f"{logical}: Guard lacks {sorted(twins - rules)}"
        assert rules <= twins | GUARD_ONLY, f"{logical}: unreviewed {sorted(rules - twins)}"
        assert rules <= REGISTRY - FIXED, logical
        assert rules == flagged(logical, resource, template), logical  # none missing, none stale


@pytest.mark.parametrize(("short", "options"), CASES)
def test_tls_only_denies_use_the_boolean_the_registry_expects(short: str, options: Any) -> None:
    template = as_dict(STACKS[short].build(options))
    denies = [
        f.statement
        for f in statements(template)
        if f.statement["Effect"] == "Deny" and f.statement.get("Sid") == "DenyInsecureTransport"
    ]
    assert denies or short == "cosell"  # co-sell has no queue when events are off
    for st in denies:
        assert st["Condition"] == {"Bool": {"aws:SecureTransport": False}}


def test_a_bucket_without_acl_suppression_has_acls_turned_off() -> None:
    """S3_BUCKET_NO_PUBLIC_RW_ACL is suppressed only because BucketOwnerEnforced holds."""
    template = as_dict(STACKS["marketplace"].build())
    for logical, resource in template["Resources"].items():
        if "S3_BUCKET_NO_PUBLIC_RW_ACL" in suppressions(resource)[1]:
            (rule,) = resource["Properties"]["OwnershipControls"]["Rules"]
            assert rule == {"ObjectOwnership": "BucketOwnerEnforced"}, logical


def test_every_suppression_says_why_and_is_used() -> None:
    everything = [
        as_dict(STACKS[short].build(options))["Resources"] for short, options in CASES_VALUES
    ]
    for suppression in ALL:
        assert len(suppression.reason) >= 40, suppression
        used = any(
            set(suppression.guard) <= suppressions(r)[1]
            and set(suppression.checkov) <= set(suppressions(r)[0])
            for resources in everything
            for r in resources.values()
        )
        assert used, suppression
    comments = {
        comment
        for resources in everything
        for r in resources.values()
        for comment in suppressions(r)[0].values()
    }
    assert comments <= {s.reason for s in ALL}  # every checkov comment is a declared reason


CASES_VALUES = [tuple(case.values) for case in CASES]
