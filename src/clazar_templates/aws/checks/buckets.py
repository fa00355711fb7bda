"""Buckets: encrypted with KMS, public access blocked, and a policy that lets the data in.

Proves the data feeds land safely: each bucket the stack created has KMS default encryption,
a full public access block and every statement of the template's bucket policy (FAIL
otherwise); a bucket the seller brought (an output ending in ``BucketName``) must let AWS
Marketplace's data-feed service ``s3:PutObject``, and what it lacks is a WARN: it is not the
stack's to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...template.reading import as_list, principals, statements
from ..errors import aws_errors, error_code
from .report import FAIL, OK, WARN
from .run import CheckRun, document, sids

__all__ = ["bucket_findings", "check_buckets"]


def check_buckets(run: CheckRun) -> None:
    """Record the findings of each bucket the stack created, then of each one it was given."""
    created = [run.physical[k] for k, _ in run.of_type("AWS::S3::Bucket") if k in run.physical]
    policies = {
        run.value(props.get("Bucket")): props["PolicyDocument"]
        for _, props in run.of_type("AWS::S3::BucketPolicy")
    }
    s3 = run.client("s3")
    for name in created:
        for status, what, detail in bucket_findings(s3, name, policies.get(name)):
            run.record(status, f"bucket {name} {what}", detail)
    given = [v for k, v in run.outputs.items() if k.endswith("BucketName") and v not in created]
    for name in given:
        for status, what, detail in bucket_findings(s3, name, None):
            run.record(WARN if status == FAIL else status, f"bucket {name} {what}", detail)


def bucket_findings(
    s3: Any, name: str, expected: dict[str, Any] | None
) -> Iterator[tuple[str, str, str]]:
    """(status, what, detail) for a bucket's encryption, public access block and policy.

    ``expected`` is the policy the stack gives it; None for a bucket the seller brought, which
    only needs to let AWS Marketplace deliver.
    """
    from ...policies import MARKETPLACE_REPORTS  # (with awacs: imported when needed)

    errors = aws_errors()
    try:
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
        default = [r.get("ApplyServerSideEncryptionByDefault", {}) for r in rules.get("Rules", [])]
        algorithm = next((d["SSEAlgorithm"] for d in default if "SSEAlgorithm" in d), "none")
        yield (OK if "kms" in algorithm else FAIL), "encryption", algorithm
    except errors as error:
        yield FAIL, "encryption", error_code(error)
    try:
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        open_ = [k for k, v in block.items() if not v]
        if open_:
            yield FAIL, "public access", "not blocked: " + ", ".join(open_)
        else:
            yield OK, "public access", "blocked"
    except errors as error:
        yield FAIL, "public access", f"no public access block ({error_code(error)})"
    try:
        policy = document(s3.get_bucket_policy(Bucket=name)["Policy"])
    except errors as error:
        yield FAIL, "policy", f"no bucket policy ({error_code(error)})"
        return
    if expected is not None:
        missing = [sid for sid in sids(expected) if sid not in sids(policy)]
        detail = (
            "missing statements " + ", ".join(missing) if missing else ", ".join(sids(expected))
        )
        yield (FAIL if missing else OK), "policy", detail
        return
    delivers = any(
        st.get("Effect") == "Allow"
        and MARKETPLACE_REPORTS in principals(st, "Service")
        and any(a in ("s3:PutObject", "s3:*") for a in as_list(st.get("Action")))
        for st in statements(policy)
    )
    if delivers:
        yield OK, "policy", f"{MARKETPLACE_REPORTS} may deliver"
    else:
        yield FAIL, "policy", f"does not let {MARKETPLACE_REPORTS} s3:PutObject"
