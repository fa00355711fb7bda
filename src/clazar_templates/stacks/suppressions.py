"""Every finding a security scanner reports on these templates that the design accepts, and why.

Sellers' security teams run checkov and AWS's Guard Rules Registry (cfn-guard). Each
:class:`Suppression` is one design choice: the reason, the checkov checks and the Guard rules
it answers. :func:`scanner_metadata` writes it on the resource, as both scanners read it:
``Metadata: checkov: skip: [{id, comment}]`` carries the reason; ``Metadata: guard:
SuppressedRules`` has no room for one, so a Guard rule without a checkov twin has its reason
here and in the README's table of suppressions (generated from this module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import policies as p

__all__ = ["ALL", "Suppression", "scanner_metadata"]


@dataclass(frozen=True)
class Suppression:
    """A finding accepted by design: why, and the checkov checks and Guard rules it answers."""

    reason: str
    checkov: tuple[str, ...] = ()
    guard: tuple[str, ...] = ()


def scanner_metadata(*suppressions: Suppression) -> dict[str, Any]:
    """Resource Metadata suppressing ``suppressions`` for checkov and cfn-guard alike."""
    metadata: dict[str, Any] = {}
    skips = [{"id": check, "comment": s.reason} for s in suppressions for check in s.checkov]
    if skips:
        metadata["checkov"] = {"skip": skips}
    rules = [rule for s in suppressions for rule in s.guard]
    if rules:
        metadata["guard"] = {"SuppressedRules": rules}
    return metadata


# --- SQS ---------------------------------------------------------------------------------
SSE_SQS = Suppression(
    "Encrypted with SSE-SQS, which SNS delivers to (a KMS key needs a policy for each sender).",
    checkov=("CKV_AWS_27",),
    guard=("SQS_QUEUE_KMS_MASTER_KEY_ID_RULE",),
)

# --- S3 (the CAS and SDDS buckets) -------------------------------------------------------
NO_ACCESS_LOGS = Suppression(
    "Access logs would need a second bucket; audit with CloudTrail data events.",
    checkov=("CKV_AWS_18",),
    guard=("S3_BUCKET_LOGGING_ENABLED",),
)
NO_ACLS = Suppression(
    "BucketOwnerEnforced turns ACLs off, so no ACL can open the bucket; AccessControl is a "
    "legacy property that cfn-lint warns about (W3045).",
    guard=("S3_BUCKET_NO_PUBLIC_RW_ACL",),
)
NO_OBJECT_LOCK = Suppression(
    "Object Lock cannot be turned off once on and would keep every delivered feed file for "
    "its whole retention; the buckets are versioned and retained with the stack instead.",
    guard=("S3_BUCKET_DEFAULT_LOCK_ENABLED",),
)
NO_REPLICATION = Suppression(
    "Replication needs a second bucket and a role allowed to write to it; the feeds are "
    "versioned and retained, and AWS Marketplace keeps the data they are made from.",
    guard=("S3_BUCKET_REPLICATION_ENABLED",),
)
FEED_BUCKET = (NO_ACCESS_LOGS, NO_ACLS, NO_OBJECT_LOCK, NO_REPLICATION)

# --- IAM ---------------------------------------------------------------------------------
INLINE_POLICY = Suppression(
    "Each policy belongs to one role of this stack and is deleted with it; a managed policy "
    "could be attached to other principals, and nothing here is shared.",
    guard=("IAM_NO_INLINE_POLICY_CHECK",),
)
MARKETPLACE_OPT_IN = Suppression(
    "Opt-in (AllowMarketplaceAccess=true); Marketplace offers no narrower resources.",
    checkov=("CKV_AWS_109", "CKV_AWS_111"),
    guard=("IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE",),
)

NO_RESOURCE_TYPE = Suppression(
    '"*" only for actions AWS\'s service reference gives no resource type (policies.RESOURCELESS): '
    + " ".join(
        f"{', '.join(actions)}: {why}."
        for why, actions in {
            why: [a for a, w in p.RESOURCELESS.items() if w == why]
            for why in p.RESOURCELESS.values()
        }.items()
    ),
    guard=("IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE",),
)
"""On every policy granting one of RESOURCELESS on "*" (a Guard suppression carries no
reason of its own: this one, in the README's table, names each action and why)."""

# --- The reporter --------------------------------------------------------------------------
REPORTER_LOGS = Suppression(
    "Logs hold status codes and reasons only, never the event or secret.",
    checkov=("CKV_AWS_158",),
    guard=("CLOUDWATCH_LOG_GROUP_ENCRYPTED",),
)
REPORTER_NO_DLQ = Suppression(
    "It always answers CloudFormation; a DLQ would hold nothing to act on.",
    checkov=("CKV_AWS_116",),
    guard=("LAMBDA_DLQ_CHECK",),
)
REPORTER_NO_VPC = Suppression(
    "It calls public HTTPS endpoints only; a VPC would need a NAT gateway.",
    checkov=("CKV_AWS_117",),
    guard=("LAMBDA_INSIDE_VPC",),
)
REPORTER_NO_RESERVED_CONCURRENCY = Suppression(
    "Runs once per stack operation; reserving concurrency fails in new accounts.",
    checkov=("CKV_AWS_115",),
    guard=("LAMBDA_CONCURRENCY_CHECK",),
)
REPORTER_FUNCTION = (REPORTER_NO_DLQ, REPORTER_NO_VPC, REPORTER_NO_RESERVED_CONCURRENCY)

ALL = (
    SSE_SQS,
    *FEED_BUCKET,
    INLINE_POLICY,
    MARKETPLACE_OPT_IN,
    NO_RESOURCE_TYPE,
    REPORTER_LOGS,
    *REPORTER_FUNCTION,
)
"""Every suppression, in the order the README's table lists them."""
