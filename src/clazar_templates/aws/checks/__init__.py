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

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ...errors import FieldError
from ...patterns import REGION, STACK_NAME, fullmatch
from ...template.render import load_template
from ...template.resolve import resolve
from ..errors import aws_errors, aws_message, error_code
from ..publishing import DEFAULT_PREFIX, PublishError, check_location
from .concrete import UNKNOWN, Concrete
from .drift import grants, statement_changes
from .recognise import NotOurs, differences, identify, reference, summarised

__all__ = ["CheckError", "CheckReport", "CheckResult", "check"]

OK, WARN, FAIL = "ok", "warn", "FAIL"
HEALTHY = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
MARKETPLACE_REPORTS = "reports.marketplace.amazonaws.com"
STACK_ID = rf"arn:aws[a-z-]*:cloudformation:{REGION}:[0-9]{{12}}:stack/{STACK_NAME}/[-a-f0-9]+"
# Bounded calls: a hung endpoint is a failure line in seconds, not minutes (botocore's own
# defaults are a 60 s read timeout and up to 5 attempts).
CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 10,
    "read_timeout": 30,
    "retries": {"mode": "standard", "max_attempts": 3},
}

Progress = Callable[[str], None]


class CheckError(FieldError):
    """An argument ``check`` cannot run with; ``field`` names it (``--region``...)."""

    field: str


@dataclass(frozen=True)
class CheckResult:
    status: str  # ok, warn or FAIL
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.status:<4} {self.subject}: {self.detail}"


@dataclass
class CheckReport:
    """Every check made, in order; Connected when none failed."""

    stack_name: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return bool(self.results) and all(r.status != FAIL for r in self.results)

    @property
    def reason(self) -> str:
        """The first failure (and how many more), or "" when connected."""
        failures = [r for r in self.results if r.status == FAIL]
        if not failures:
            return ""
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        return f"{failures[0].subject}: {failures[0].detail}{more}"

    @property
    def summary(self) -> str:
        return "Connected" if self.connected else f"Error: {self.reason}"


def _document(value: Any) -> dict[str, Any]:
    """A policy document from an API answer: a dict, JSON text, or URL-encoded JSON."""
    if isinstance(value, dict):
        return value
    text = str(value)
    return dict(json.loads(unquote(text) if text.startswith("%7B") else text))


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


def _sids(document: dict[str, Any]) -> list[str]:
    return [st["Sid"] for st in _statements(document) if "Sid" in st]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class _Checker:
    """One run of the checks against one stack (state shared by the steps)."""

    def __init__(self, session: Any, stack_name: str, region: str, say: Progress) -> None:
        self.session = session
        self.region = region
        self.report = CheckReport(stack_name)
        self.say = say
        self.physical: dict[str, str] = {}
        self.resources: dict[str, Any] = {}
        self.outputs: dict[str, str] = {}
        self.partition = "aws"
        self.concrete = Concrete(f"arn:aws:cloudformation:{region}::stack/{stack_name}/", {}, {})
        # (replaced by the stack's own once it is read)
        self.errors = aws_errors()
        self.queue_policies: list[dict[str, Any]] = []
        self.clients: dict[tuple[str, str], Any] = {}

    def record(self, status: str, subject: str, detail: str) -> None:
        result = CheckResult(status, subject, " ".join(detail.split()))  # one line each
        self.report.results.append(result)
        self.say(str(result))

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of the seller's session, made once (making one takes tens of ms)."""
        from botocore.config import Config

        key = (service, region or self.region)
        if key not in self.clients:
            config = Config(**CLIENT_CONFIG)
            self.clients[key] = self.session.client(service, region_name=key[1], config=config)
        return self.clients[key]

    def of_type(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical, res in self.resources.items():
            if res["Type"] == kind:
                yield logical, res.get("Properties", {})

    def value(self, node: Any) -> Any:
        """A resolved template value made concrete (Refs to the stack's resources are their
        physical IDs, ARNs are built from them); None if it cannot be."""
        found = self.concrete(node)
        return None if UNKNOWN in json.dumps(found) else found

    # --- the stack --------------------------------------------------------------------
    def stack(self, name: str, bucket: str | None, prefix: str) -> bool:
        """Status, outputs, and our template for the stack, resolved with its parameters."""
        cfn = self.client("cloudformation")
        try:
            (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
        except self.errors as error:  # reported, not raised
            if "does not exist" in str(error):
                self.record(FAIL, "stack", f"no stack named {name} exists in {self.region}")
            else:
                self.record(
                    FAIL,
                    "stack",
                    f"cannot read stack {name} in {self.region}: {aws_message(error)}",
                )
            return False
        status = stack["StackStatus"]
        self.partition = stack["StackId"].split(":")[1]
        if status in HEALTHY:
            self.record(OK, "stack", f"{name} is {status}")
        elif status == "UPDATE_ROLLBACK_COMPLETE":
            self.record(WARN, "stack", f"{name}: its last update rolled back ({status})")
        else:
            self.record(FAIL, "stack", f"{name} is {status}")
            return False
        unreadable: tuple[type[Exception], ...] = (*self.errors, ValueError)
        try:
            resolved = self.template(cfn, stack, bucket, prefix)
        except NotOurs as error:
            self.record(FAIL, "template", str(error))
            return False
        except unreadable as error:  # AWS refused, or parameters our template cannot take
            self.record(FAIL, "template", f"cannot read the stack's template: {aws_message(error)}")
            return False
        self.resources = resolved["Resources"]
        self.concrete = Concrete(stack["StackId"], self.physical, self.resources)
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        missing = [k for k in resolved["Outputs"] if k not in self.outputs]
        if missing:
            self.record(FAIL, "outputs", "missing " + ", ".join(missing))
        else:
            self.record(OK, "outputs", ", ".join(self.outputs) or "none expected")
        return True

    def template(
        self, cfn: Any, stack: dict[str, Any], bucket: str | None, prefix: str
    ) -> dict[str, Any]:
        """Our template for the stack, resolved with its parameters; records physical IDs.

        NotOurs when the stack's template is not one of ours, its reference cannot be had,
        or it differs from the reference (each says what).
        """
        name = stack["StackName"]
        body = cfn.get_template(StackName=name)["TemplateBody"]
        try:  # boto3 hands a JSON template over decoded, YAML as text
            deployed = (
                json.loads(json.dumps(body)) if isinstance(body, dict) else load_template(body)
            )
        except ValueError as error:
            raise NotOurs(f"not a Clazar stack: its template cannot be read ({error})") from None
        identity = identify(deployed)
        expected, source = reference(identity, bucket=bucket, prefix=prefix, s3=self.client("s3"))
        found = differences(deployed, expected)
        if found:
            raise NotOurs(f"differs from {source}: {summarised(found)}")
        self.record(OK, "template", source)
        declared = expected.get("Parameters", {})
        values = {
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
            for p in stack.get("Parameters", [])
            if p["ParameterKey"] in declared
        }
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
            for res in page["StackResourceSummaries"]:
                if res.get("LogicalResourceId"):
                    self.physical[res["LogicalResourceId"]] = res.get("PhysicalResourceId", "")
        return resolve(expected, values, region=stack["StackId"].split(":")[3])

    def vendor(self) -> tuple[str | None, str | None]:
        """Clazar's account and the external ID, as the template grants them."""
        for _, props in self.of_type("AWS::IAM::Role"):
            for st in _statements(props.get("AssumeRolePolicyDocument", {})):
                if st.get("Sid") == "TrustClazarAccount":
                    root = fullmatch(
                        r"arn:[^:]+:iam::([0-9]{12}):root",
                        self.value(_principal(st, "AWS")),
                    )
                    external = st["Condition"]["StringEquals"]["sts:ExternalId"]
                    return (root.group(1) if root else None), str(external)
        for _, props in self.of_type("Custom::ClazarReporter"):
            if "VendorAccountId" in props:
                return str(props["VendorAccountId"]), str(props.get("ExternalId"))
        return None, self.outputs.get("ExternalId")

    # --- roles ------------------------------------------------------------------------
    def roles(self, account: str | None, external_id: str | None) -> list[str]:
        """Check every role the stack outputs (the ones Clazar assumes); their ARNs."""
        arns = [v for k, v in self.outputs.items() if k.endswith("RoleArn") and ":role/" in v]
        iam = self.client("iam")
        by_name = {self.physical.get(k): k for k, _ in self.of_type("AWS::IAM::Role")}
        unreadable: tuple[type[Exception], ...] = (*self.errors, ValueError)
        for arn in arns:
            name = arn.rsplit("/", 1)[-1]
            try:
                role = iam.get_role(RoleName=name)["Role"]
                trust = _document(role["AssumeRolePolicyDocument"])
            except unreadable as error:
                self.record(FAIL, f"role {name}", aws_message(error))
                continue
            self.trust(name, trust, account, external_id)
            logical = by_name.get(name)
            if logical:
                self.untrusted(name, logical, trust)
                try:
                    self.role_policies(iam, role, logical)
                except self.errors as error:
                    self.record(FAIL, f"role {name} policies", aws_message(error))
            else:
                self.record(OK, f"role {name}", "reused (not created by this stack)")
        return arns

    def trust(self, name: str, doc: dict[str, Any], account: str | None, ext: str | None) -> None:
        subject = f"role {name} trust"
        for st in _statements(doc):
            actions = _listed(st.get("Action", []))
            principals = _listed(_principal(st, "AWS"))
            if st.get("Effect") != "Allow" or "sts:AssumeRole" not in actions:
                continue
            if not any(
                p in (account, f"arn:{self.partition}:iam::{account}:root") for p in principals
            ):
                continue
            equals = (st.get("Condition") or {}).get("StringEquals")
            given = equals.get("sts:ExternalId") if isinstance(equals, dict) else None
            if given is None:
                self.record(FAIL, subject, f"trusts {account} without requiring the external ID")
            elif ext not in _listed(given):
                self.record(FAIL, subject, f"external ID is {given!r}, expected {ext!r}")
            else:
                self.record(OK, subject, f"Clazar's account {account}, external ID {ext}")
            return
        self.record(FAIL, subject, f"does not let Clazar's account {account} assume it")

    def untrusted(self, name: str, logical: str, doc: dict[str, Any]) -> None:
        """Warn about each trust statement the stack did not write or that was changed (who
        else may assume the role); a missing one is :meth:`trust`'s failure."""
        props = self.resources[logical].get("Properties", {})
        expected = self.concrete(props.get("AssumeRolePolicyDocument", {}))
        for change in statement_changes(expected, doc):
            if not change.endswith(" is missing"):
                self.record(WARN, f"role {name} trust", f"not created by this stack: {change}")

    def role_policies(self, iam: Any, role: dict[str, Any], logical: str) -> None:
        """The role carries exactly what the template gives it: each inline policy with the
        same statements (FAIL when one is missing or changed), the managed policies and the
        permissions boundary; anything else on it is a warning, one line per item."""
        name = role["RoleName"]
        inline, managed, boundary = self.expected_policies(logical)
        problems = self.inline_policies(iam, name, inline)
        problems += self.managed_policies(iam, name, managed)
        have = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if have != boundary:
            if boundary is None:
                self.record(WARN, f"role {name} boundary", f"{have} was not set by this stack")
            else:
                problems += 1
                self.record(FAIL, f"role {name} boundary", f"is {have}, expected {boundary}")
        if not problems:
            listed = ", ".join([*inline, *(arn.rsplit("/", 1)[-1] for arn in managed)])
            self.record(OK, f"role {name} policies", listed or "none expected")

    def expected_policies(self, logical: str) -> tuple[dict[str, Any], list[str], str | None]:
        """The role's inline policies (name -> document), managed policy ARNs and
        permissions boundary, as AWS holds them for this stack."""
        inline: dict[str, Any] = {}
        for policy_id, props in self.of_type("AWS::IAM::Policy"):
            if {"Ref": logical} in props.get("Roles", []):
                inline[props.get("PolicyName", policy_id)] = self.concrete(props["PolicyDocument"])
        role = self.resources[logical].get("Properties", {})
        for policy in role.get("Policies", []):
            inline[policy["PolicyName"]] = self.concrete(policy["PolicyDocument"])
        managed = [str(self.concrete(arn)) for arn in role.get("ManagedPolicyArns", [])]
        boundary = role.get("PermissionsBoundary")
        return inline, managed, None if boundary is None else str(self.concrete(boundary))

    def inline_policies(self, iam: Any, name: str, expected: dict[str, Any]) -> int:
        """Record each missing, changed (FAIL) or extra (WARN) inline policy; the FAILs."""
        pages = iam.get_paginator("list_role_policies").paginate(RoleName=name)
        attached = [p for page in pages for p in page["PolicyNames"]]
        failures = 0
        for policy in [*expected, *(p for p in attached if p not in expected)]:
            subject = f"role {name} policy {policy}"
            if policy not in attached:
                failures += 1
                self.record(FAIL, subject, "is missing")
                continue
            answer = iam.get_role_policy(RoleName=name, PolicyName=policy)
            try:
                document = _document(answer["PolicyDocument"])
            except ValueError:
                failures += policy in expected
                self.record(FAIL, subject, "is not a JSON policy document")
                continue
            if policy not in expected:
                self.record(WARN, subject, f"not created by this stack: {grants(document)}")
            elif UNKNOWN in json.dumps(expected[policy]):
                self.record(WARN, subject, "cannot be compared: a value AWS names is unknown")
            elif changes := statement_changes(expected[policy], document):
                failures += 1
                self.record(FAIL, subject, "differs from the template: " + "; ".join(changes))
        return failures

    def managed_policies(self, iam: Any, name: str, expected: list[str]) -> int:
        """Record each managed policy missing (FAIL) or attached by someone else (WARN)."""
        pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
        attached = {
            p["PolicyArn"]: p["PolicyName"] for page in pages for p in page["AttachedPolicies"]
        }
        failures = 0
        for arn in expected:
            if arn not in attached:
                failures += 1
                policy = arn.rsplit("/", 1)[-1]
                self.record(FAIL, f"role {name} policy {policy}", f"{arn} is not attached")
        for arn, policy in attached.items():
            if arn not in expected:
                self.record(
                    WARN, f"role {name} policy {policy}", f"{arn} attached, not by this stack"
                )
        return failures

    # --- queue, topics, subscriptions -------------------------------------------------
    def resource_policies(self) -> None:
        """Queue and topic policies: present, with every statement the template has."""
        sqs, sns = self.client("sqs"), self.client("sns")
        for _, props in self.of_type("AWS::SQS::QueuePolicy"):
            for queue in props.get("Queues", []):
                url = self.value(queue)
                subject = f"queue {str(url).rsplit('/', 1)[-1]} policy"
                try:
                    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
                except self.errors as error:
                    self.record(FAIL, subject, aws_message(error))
                    continue
                text = got.get("Attributes", {}).get("Policy")
                self.queue_policies.append(self.sids(subject, props["PolicyDocument"], text))
        for _, props in self.of_type("AWS::SNS::TopicPolicy"):
            for topic in props.get("Topics", []):
                arn = self.value(topic)
                subject = f"topic {str(arn).rsplit(':', 1)[-1]} policy"
                try:
                    text = sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy")
                except self.errors as error:
                    self.record(FAIL, subject, aws_message(error))
                    continue
                self.sids(subject, props["PolicyDocument"], text)

    def sids(self, subject: str, expected: dict[str, Any], text: str | None) -> dict[str, Any]:
        """Record whether the policy ``text`` has every statement of ``expected``; the
        policy as read ({} when there is none)."""
        try:
            found = _document(text) if text else {}
        except ValueError:
            self.record(FAIL, subject, "the policy is not JSON")
            return {}
        missing = [sid for sid in _sids(expected) if sid not in _sids(found)]
        if not text:
            self.record(FAIL, subject, "no policy")
        elif missing:
            self.record(FAIL, subject, "missing statements " + ", ".join(missing))
        else:
            self.record(OK, subject, ", ".join(_sids(expected)))
        return found

    def subscriptions(self) -> None:
        """Each subscription the template makes exists, and a queue policy admits it."""
        for logical, props in self.of_type("AWS::SNS::Subscription"):
            topic = str(self.value(props.get("TopicArn")))
            ours = isinstance(props.get("TopicArn"), dict)  # a Ref: the stack's own topic
            subject = f"subscription {topic.rsplit(':', 1)[-1]}"
            region = props.get("Region") or (topic.split(":") + [""] * 4)[3] or None
            try:
                endpoint = self.value(props.get("Endpoint"))
                sns = self.client("sns", region)
                pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
                subscribed = any(
                    s["Protocol"] == props.get("Protocol") and s["Endpoint"] == endpoint
                    for page in pages
                    for s in page["Subscriptions"]
                )
            except self.errors as error:
                self.record(FAIL if ours else WARN, subject, f"cannot list: {aws_message(error)}")
                continue
            if not subscribed:
                self.record(FAIL, subject, f"{logical}: {endpoint} is not subscribed")
            elif not any(topic in _source_arns(doc) for doc in self.queue_policies):
                self.record(FAIL, subject, "no queue policy lets this topic deliver")
            else:
                self.record(OK, subject, f"delivers to {str(endpoint).rsplit(':', 1)[-1]}")

    # --- buckets ----------------------------------------------------------------------
    def buckets(self) -> None:
        created = [
            self.physical[k] for k, _ in self.of_type("AWS::S3::Bucket") if k in self.physical
        ]
        policies = {
            self.value(props.get("Bucket")): props["PolicyDocument"]
            for _, props in self.of_type("AWS::S3::BucketPolicy")
        }
        s3 = self.client("s3")
        for name in created:
            for status, what, detail in _bucket_findings(s3, name, policies.get(name)):
                self.record(status, f"bucket {name} {what}", detail)
        given = [
            v for k, v in self.outputs.items() if k.endswith("BucketName") and v not in created
        ]
        for name in given:
            for status, what, detail in _bucket_findings(s3, name, None):
                self.record(WARN if status == FAIL else status, f"bucket {name} {what}", detail)

    # --- the vendor's side ------------------------------------------------------------
    def assume(self, vendor: Any, arns: list[str], external_id: str | None) -> None:
        sts = vendor.client("sts", region_name=self.region)
        for arn in arns:
            subject = f"assume {arn.rsplit('/', 1)[-1]}"
            try:
                sts.assume_role(
                    RoleArn=arn, RoleSessionName="clazar-check", ExternalId=external_id or ""
                )
            except self.errors as error:
                self.record(
                    FAIL, subject, f"with the external ID as the vendor: {aws_message(error)}"
                )
            else:
                self.record(OK, subject, "the vendor can assume it with the external ID")


def _source_arns(document: dict[str, Any]) -> list[str]:
    """Every aws:SourceArn an Allow statement of a queue policy accepts."""
    arns: list[str] = []
    for st in _statements(document):
        condition = st.get("Condition")
        if st.get("Effect") == "Allow" and isinstance(condition, dict):
            for tests in condition.values():
                arns += _listed(tests.get("aws:SourceArn", [])) if isinstance(tests, dict) else []
    return arns


def _principal(statement: dict[str, Any], kind: str) -> Any:
    """The statement's ``Principal`` of ``kind`` ("AWS", "Service"); [] for ``"*"`` or none
    (what AWS answers is read, and a seller's own policy may say anything)."""
    principal = statement.get("Principal")
    return principal.get(kind, []) if isinstance(principal, dict) else []


def _bucket_findings(
    s3: Any, name: str, expected: dict[str, Any] | None
) -> Iterator[tuple[str, str, str]]:
    """(status, what, detail) for a bucket's encryption, public access block and policy.

    ``expected`` is the policy the stack gives it; None for a bucket the seller brought, which
    only needs to let AWS Marketplace deliver.
    """
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
        yield (
            (FAIL, "public access", "not blocked: " + ", ".join(open_))
            if open_
            else (
                OK,
                "public access",
                "blocked",
            )
        )
    except errors as error:
        yield FAIL, "public access", f"no public access block ({error_code(error)})"
    try:
        policy = _document(s3.get_bucket_policy(Bucket=name)["Policy"])
    except errors as error:
        yield FAIL, "policy", f"no bucket policy ({error_code(error)})"
        return
    if expected is not None:
        missing = [sid for sid in _sids(expected) if sid not in _sids(policy)]
        detail = (
            "missing statements " + ", ".join(missing) if missing else ", ".join(_sids(expected))
        )
        yield (FAIL if missing else OK), "policy", detail
        return
    delivers = any(
        st.get("Effect") == "Allow"
        and MARKETPLACE_REPORTS in _listed(_principal(st, "Service"))
        and any(a in ("s3:PutObject", "s3:*") for a in _listed(st.get("Action", [])))
        for st in _statements(policy)
    )
    if delivers:
        yield OK, "policy", f"{MARKETPLACE_REPORTS} may deliver"
    else:
        yield FAIL, "policy", f"does not let {MARKETPLACE_REPORTS} s3:PutObject"


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
    where = region or session.region_name or "us-east-1"
    if not fullmatch(REGION, where):
        raise CheckError("--region", f"{where!r} (from your AWS configuration) is not a region")
    run = _Checker(session, stack_name, where, say)
    try:
        _run(run, stack_name, bucket, prefix, vendor_session)
    except run.errors as error:  # one a step did not expect: still a line, not a traceback
        run.record(FAIL, "AWS", aws_message(error))
    return run.report


def _run(run: _Checker, stack_name: str, bucket: str | None, prefix: str, vendor: Any) -> None:
    if not run.stack(stack_name, bucket, prefix):
        return
    account, external_id = run.vendor()
    arns = run.roles(account, external_id)
    run.resource_policies()
    run.subscriptions()
    run.buckets()
    if vendor is not None:
        run.assume(vendor, arns, external_id)


def _check_arguments(stack: str, region: str | None, bucket: str | None, prefix: str) -> None:
    if not (fullmatch(STACK_NAME, stack) or fullmatch(STACK_ID, stack)):
        raise CheckError(
            "--stack",
            f"{stack!r} is not a stack name (a letter, then up to 127 letters, digits and "
            "hyphens) or stack ID",
        )
    if region is not None and not fullmatch(REGION, region):
        raise CheckError("--region", f"{region!r} is not an AWS region name, e.g. us-east-1")
    if bucket is not None:
        try:
            check_location(bucket, prefix, None)
        except PublishError as error:
            raise CheckError(f"--{error.field}", error.message) from None
