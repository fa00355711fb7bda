"""The platform's "Test Configuration", run from the seller's side with boto3.

The stack is judged by what *our* template creates, not by its own template (anyone can
deploy a template with one queue and call it connected): its template must say which of
ours it is (``Metadata.Clazar``) and equal that template, rebuilt by this library or read
from where it was published (see :mod:`.recognise`). Everything expected is
then read from that template, resolved with the stack's parameter values: the roles and
the policies and statements they must carry (and nothing more: a policy, managed policy or
permissions boundary the stack did not create is a warning), the queue, topic and bucket
policies, the subscriptions. Buckets the seller already had are not the stack's to fix:
what they lack is a warning, not a failure.

With the vendor's credentials (a profile), it also assumes each role with the external ID,
which is what Clazar does.
"""

from __future__ import annotations

from typing import Any

from ...errors import FieldError
from ...patterns import REGION, STACK_NAME, STACK_NAME_FORM, fullmatch, region_problem
from ..errors import aws_message, no_region
from ..publishing import DEFAULT_PREFIX, PublishError, check_location
from .assume import check_assume
from .buckets import check_buckets
from .events import check_event_rules
from .report import FAIL, OK, WARN, CheckReport, CheckResult, Progress
from .resource_policies import check_resource_policies
from .roles import check_roles
from .run import CheckRun
from .stack import check_stack
from .subscriptions import check_subscriptions
from .trust import trusted_vendor

__all__ = ["FAIL", "OK", "WARN", "CheckError", "CheckReport", "CheckResult", "check"]

STACK_ID = rf"arn:aws[a-z-]*:cloudformation:{REGION}:[0-9]{{12}}:stack/{STACK_NAME}/[-a-f0-9]+"
# Bounded calls: a hung endpoint is a failure line in seconds, not minutes (botocore's own
# defaults are a 60 s read timeout and up to 5 attempts).
CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 10,
    "read_timeout": 30,
    "retries": {"mode": "standard", "max_attempts": 3},
}


class CheckError(FieldError):
    """An argument ``check`` cannot run with; ``field`` names it (``--region``...)."""

    field: str


def check(
    stack_name: str,
    *,
    region: str | None = None,
    vendor_profile: str | None = None,
    bucket: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    progress: Progress | None = None,
    session: Any = None,
    vendor_session: Any = None,
) -> CheckReport:
    """Check the deployed stack ``stack_name`` as the seller (``session``, by default boto3's
    default credentials) and, given ``vendor_profile`` or ``vendor_session``, as the vendor.

    ``bucket`` and ``prefix`` say where the stack's template version is published, for a
    version other than this library's. Each check is reported to ``progress`` as it is
    made. Raises CheckError, naming the argument, for a malformed stack name, region,
    bucket or prefix or an unknown profile, before any call; never raises for what it finds
    (a failure is a FAIL result, and the report says Connected only without one), nor for
    what AWS answers.
    """
    import boto3
    from botocore.exceptions import ProfileNotFound

    say = progress or (lambda _line: None)
    _check_arguments(stack_name, region, bucket, prefix)
    try:
        session = session or boto3.Session(region_name=region)
        if vendor_profile and vendor_session is None:
            vendor_session = boto3.Session(profile_name=vendor_profile, region_name=region)
    except ProfileNotFound as error:
        field = "--vendor-profile" if vendor_profile and session else "AWS_PROFILE"
        raise CheckError(field, str(error)) from None
    where = region or session.region_name
    if not where:
        raise CheckError("--region", no_region())
    if region_problem(where):
        raise CheckError("--region", f"(from your AWS configuration) {region_problem(where)}")
    run = CheckRun(session, stack_name, where, say, CLIENT_CONFIG)
    try:
        _run(run, stack_name, bucket, prefix, vendor_session)
    except run.errors as error:  # one a step did not expect: still a line, not a traceback
        run.record(FAIL, "AWS", aws_message(error))
    return run.report


def _run(run: CheckRun, stack_name: str, bucket: str | None, prefix: str, vendor: Any) -> None:
    """Every check, in order (each module of this package says what its check proves)."""
    if not check_stack(run, stack_name, bucket, prefix):
        return
    account, external_id = trusted_vendor(run)
    arns = check_roles(run, account, external_id)
    check_resource_policies(run)
    check_subscriptions(run)
    check_event_rules(run)
    check_buckets(run)
    if vendor is not None:
        check_assume(run, vendor, arns, external_id)


def _check_arguments(stack: str, region: str | None, bucket: str | None, prefix: str) -> None:
    if not (fullmatch(STACK_NAME, stack) or fullmatch(STACK_ID, stack)):
        raise CheckError(
            "--stack",
            f"{stack!r} is not a stack name ({STACK_NAME_FORM}) or stack ID",
        )
    if region is not None and region_problem(region):
        raise CheckError("--region", str(region_problem(region)))
    if bucket is not None:
        try:
            check_location(bucket, prefix, None)
        except PublishError as error:
            raise CheckError(f"--{error.field}", error.message) from None
