"""The platform's "Test Configuration", run from the seller's side with boto3.

Everything expected is read from the stack's own template, resolved with the stack's
parameter values (see :mod:`clazar_templates.resolve`): the roles and the policies and
statements (by Sid) they must carry, the queue, topic and bucket policies, the
subscriptions. So the check follows the template as resources are added, and works for
either stack and any build-time options. Buckets the seller already had are not the
stack's to fix: what they lack is a warning, not a failure.

With the vendor's credentials (a profile), it also assumes each role with the external ID,
which is what Clazar does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import click

from .render import load_template
from .resolve import resolve

__all__ = ["CheckReport", "CheckResult", "check"]

OK, WARN, FAIL = "ok", "warn", "FAIL"
HEALTHY = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
MARKETPLACE_REPORTS = "reports.marketplace.amazonaws.com"

Progress = Callable[[str], None]


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


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", type(error).__name__))


class _Checker:
    """One run of the checks against one stack (state shared by the steps)."""

    def __init__(self, session: Any, stack_name: str, region: str | None, say: Progress) -> None:
        self.session = session
        self.region = region or session.region_name or "us-east-1"
        self.report = CheckReport(stack_name)
        self.say = say
        self.physical: dict[str, str] = {}
        self.resources: dict[str, Any] = {}
        self.outputs: dict[str, str] = {}
        self.partition = "aws"
        self.errors = aws_errors()
        self.queue_policies: list[dict[str, Any]] = []
        self.clients: dict[tuple[str, str], Any] = {}

    def record(self, status: str, subject: str, detail: str) -> None:
        result = CheckResult(status, subject, detail)
        self.report.results.append(result)
        self.say(str(result))

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of the seller's session, made once (making one takes tens of ms)."""
        key = (service, region or self.region)
        if key not in self.clients:
            self.clients[key] = self.session.client(service, region_name=key[1])
        return self.clients[key]

    def of_type(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical, res in self.resources.items():
            if res["Type"] == kind:
                yield logical, res.get("Properties", {})

    def kind(self, logical: str) -> str:
        return str(self.resources.get(logical, {}).get("Type", ""))

    def value(self, node: Any) -> Any:
        """A resolved template value made concrete: Refs to the stack's resources become
        their physical IDs; anything still symbolic is None."""
        if isinstance(node, str):
            return node
        ref = node.get("Ref") if isinstance(node, dict) else None
        if isinstance(ref, str):
            return self.physical.get(ref)
        attr = node.get("Fn::GetAtt") if isinstance(node, dict) else None
        if attr and attr[1] == "Arn" and self.kind(attr[0]) == "AWS::SQS::Queue":
            return self.queue_arn(self.physical[attr[0]])
        return None

    def queue_arn(self, url: str) -> str:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )
        return str(attributes["Attributes"]["QueueArn"])

    # --- the stack --------------------------------------------------------------------
    def stack(self, name: str) -> bool:
        """Status, outputs, and the template resolved with the stack's parameters."""
        cfn = self.client("cloudformation")
        try:
            (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
        except self.errors as error:  # reported, not raised
            self.record(FAIL, "stack", f"{name} in {self.region}: {error}")
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
            resolved = self.template(cfn, stack)
        except unreadable as error:
            self.record(FAIL, "template", f"cannot read the stack's template: {error}")
            return False
        self.resources = resolved["Resources"]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        missing = [k for k in resolved["Outputs"] if k not in self.outputs]
        if missing:
            self.record(FAIL, "outputs", "missing " + ", ".join(missing))
        else:
            self.record(OK, "outputs", ", ".join(self.outputs) or "none expected")
        return True

    def template(self, cfn: Any, stack: dict[str, Any]) -> dict[str, Any]:
        """The stack's template resolved with its parameters; records physical IDs."""
        name = stack["StackName"]
        body = cfn.get_template(StackName=name)["TemplateBody"]
        template = body if isinstance(body, dict) else load_template(body)
        declared = template.get("Parameters", {})
        values = {
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
            for p in stack.get("Parameters", [])
            if p["ParameterKey"] in declared
        }
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
            for res in page["StackResourceSummaries"]:
                self.physical[res["LogicalResourceId"]] = res.get("PhysicalResourceId", "")
        return resolve(template, values, region=stack["StackId"].split(":")[3])

    def vendor(self) -> tuple[str | None, str | None]:
        """Clazar's account and the external ID, as the template grants them."""
        for _, props in self.of_type("AWS::IAM::Role"):
            for st in _statements(props.get("AssumeRolePolicyDocument", {})):
                if st.get("Sid") == "TrustClazarAccount":
                    account = re.search(r"iam::([0-9]{12}):root", json.dumps(st["Principal"]))
                    external = st["Condition"]["StringEquals"]["sts:ExternalId"]
                    return (account.group(1) if account else None), str(external)
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
        for arn in arns:
            name = arn.rsplit("/", 1)[-1]
            try:
                role = iam.get_role(RoleName=name)["Role"]
            except self.errors as error:
                self.record(FAIL, f"role {name}", str(error))
                continue
            self.trust(name, _document(role["AssumeRolePolicyDocument"]), account, external_id)
            logical = by_name.get(name)
            if logical:
                try:
                    self.role_policies(iam, name, logical)
                except self.errors as error:
                    self.record(FAIL, f"role {name} policies", str(error))
            else:
                self.record(OK, f"role {name}", "reused (not created by this stack)")
        return arns

    def trust(self, name: str, doc: dict[str, Any], account: str | None, ext: str | None) -> None:
        subject = f"role {name} trust"
        for st in _statements(doc):
            actions = _listed(st.get("Action", []))
            principals = _listed((st.get("Principal") or {}).get("AWS", []))
            if st.get("Effect") != "Allow" or "sts:AssumeRole" not in actions:
                continue
            if not any(
                p in (account, f"arn:{self.partition}:iam::{account}:root") for p in principals
            ):
                continue
            given = (st.get("Condition") or {}).get("StringEquals", {}).get("sts:ExternalId")
            if given is None:
                self.record(FAIL, subject, f"trusts {account} without requiring the external ID")
            elif ext not in _listed(given):
                self.record(FAIL, subject, f"external ID is {given!r}, expected {ext!r}")
            else:
                self.record(OK, subject, f"Clazar's account {account}, external ID {ext}")
            return
        self.record(FAIL, subject, f"does not let Clazar's account {account} assume it")

    def role_policies(self, iam: Any, name: str, logical: str) -> None:
        """The role has every policy the template gives it, each with all its statements."""
        expected: dict[str, list[str]] = {}
        managed: list[str] = []
        for policy_id, props in self.of_type("AWS::IAM::Policy"):
            if {"Ref": logical} in props.get("Roles", []):
                expected[props.get("PolicyName", policy_id)] = _sids(props["PolicyDocument"])
        role = self.resources[logical].get("Properties", {})
        for inline in role.get("Policies", []):
            expected[inline["PolicyName"]] = _sids(inline["PolicyDocument"])
        for arn in role.get("ManagedPolicyArns", []):
            text = arn.get("Fn::Sub", "") if isinstance(arn, dict) else str(arn)
            managed.append(text.rsplit("/", 1)[-1])
        attached = set(iam.list_role_policies(RoleName=name)["PolicyNames"])
        problems = [f"policy {p} is missing" for p in expected if p not in attached]
        for policy, sids in expected.items():
            if policy in attached:
                answer = iam.get_role_policy(RoleName=name, PolicyName=policy)
                try:
                    have = _sids(_document(answer["PolicyDocument"]))
                except ValueError:
                    problems.append(f"{policy} is not a JSON policy document")
                    continue
                problems += [f"{policy} lacks statement {sid}" for sid in sids if sid not in have]
        if managed:
            found = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            names = {p["PolicyName"] for p in found}
            problems += [
                f"AWS managed policy {m} is not attached" for m in managed if m not in names
            ]
        if problems:
            self.record(FAIL, f"role {name} policies", "; ".join(problems))
        else:
            listed = ", ".join([*expected, *managed])
            self.record(OK, f"role {name} policies", listed or "none expected")

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
                    self.record(FAIL, subject, str(error))
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
                    self.record(FAIL, subject, str(error))
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
            try:
                endpoint = self.value(props.get("Endpoint"))
                sns = self.client("sns", props.get("Region") or topic.split(":")[3])
                pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
                subscribed = any(
                    s["Protocol"] == props.get("Protocol") and s["Endpoint"] == endpoint
                    for page in pages
                    for s in page["Subscriptions"]
                )
            except self.errors as error:
                self.record(FAIL if ours else WARN, subject, f"cannot list: {error}")
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
                self.record(FAIL, subject, f"with the external ID as the vendor: {error}")
            else:
                self.record(OK, subject, "the vendor can assume it with the external ID")


def aws_errors() -> tuple[type[Exception], ...]:
    """What boto3 raises for a refused or failed call (imported late: startup stays fast)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _source_arns(document: dict[str, Any]) -> list[str]:
    """Every aws:SourceArn an Allow statement of a queue policy accepts."""
    arns: list[str] = []
    for st in _statements(document):
        if st.get("Effect") == "Allow":
            for tests in (st.get("Condition") or {}).values():
                arns += _listed(tests.get("aws:SourceArn", []))
    return arns


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
        algorithm = rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        yield (OK if "kms" in algorithm else FAIL), "encryption", algorithm
    except errors as error:
        yield FAIL, "encryption", _error_code(error)
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
        yield FAIL, "public access", f"no public access block ({_error_code(error)})"
    try:
        policy = _document(s3.get_bucket_policy(Bucket=name)["Policy"])
    except errors as error:
        yield FAIL, "policy", f"no bucket policy ({_error_code(error)})"
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
        and MARKETPLACE_REPORTS in _listed((st.get("Principal") or {}).get("Service", []))
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
    progress: Progress | None = None,
    session: Any = None,
    vendor_session: Any = None,
) -> CheckReport:
    """Check the deployed stack ``stack_name`` as the seller (``session``, by default boto3's
    default credentials) and, given ``vendor_profile`` or ``vendor_session``, as the vendor.

    Each check is reported to ``progress`` as it is made. Never raises for what it finds:
    a failure is a FAIL result, and the report says Connected only without one.
    """
    import boto3

    say = progress or (lambda _line: None)
    session = session or boto3.Session(region_name=region)
    if vendor_profile and vendor_session is None:
        vendor_session = boto3.Session(profile_name=vendor_profile, region_name=region)
    run = _Checker(session, stack_name, region, say)
    if not run.stack(stack_name):
        return run.report
    account, external_id = run.vendor()
    arns = run.roles(account, external_id)
    run.resource_policies()
    run.subscriptions()
    run.buckets()
    if vendor_session is not None:
        run.assume(vendor_session, arns, external_id)
    return run.report


@click.command("check")
@click.option("--stack", "stack_name", required=True, help="Name of the deployed stack.")
@click.option("--region", help="The stack's region (default: your AWS configuration's).")
@click.option("--vendor-profile", help="AWS profile with Clazar's credentials: also assume.")
def check_command(stack_name: str, region: str | None, vendor_profile: str | None) -> None:
    """Test a deployed stack's configuration: print each check, then Connected or Error."""
    from botocore.exceptions import ProfileNotFound

    try:
        report = check(
            stack_name, region=region, vendor_profile=vendor_profile, progress=click.echo
        )
    except ProfileNotFound as error:
        raise click.BadParameter(str(error), param_hint="--vendor-profile") from None
    click.echo(report.summary)
    if not report.connected:
        raise SystemExit(1)
