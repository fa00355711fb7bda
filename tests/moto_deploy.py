"""Deploy a template into moto (server mode) as CloudFormation would, and finish what moto skips.

moto runs a custom resource's Lambda only through Docker: :func:`reporter_in_process` runs
the reporter code inlined in the deployed template (its function's ``index.py``) in this
process instead (moto's server thread shares it), on a fake clock of its own (``fake_clock``),
against a local fake of Clazar's API, and hands its answer back to moto. moto also skips
bucket, queue and topic policies and SNS subscriptions, ignores a bucket's public access
block and a role's ManagedPolicyArns, and keeps a role's inline Policies as Python repr
text: :func:`finish_what_moto_skips` makes them with boto3, from the template's own
definitions resolved with the stack's parameters.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3

from clazar_templates import to_json
from clazar_templates.template.resolve import resolve
from fake_clock import FakeClock
from reporter_support import API_PATH, FakeContext, FakeServer, load_index
from support import DEPLOY_VALUES


@dataclass
class Reporter:
    """The fakes the in-process reporter talks to: Clazar's API (``api.requests`` are the
    reports sent) and CloudFormation's response URL (``responses.requests`` its answers)."""

    api: FakeServer
    responses: FakeServer


@contextmanager
def reporter_in_process() -> Iterator[Reporter]:
    """Run the reporter in-process for every custom resource moto creates, drop the
    ``AWS::NoValue`` items moto leaves in lists (as None; CloudFormation drops them), and
    compare parameter values as the strings CloudFormation takes (moto hands a Number
    parameter's ``UsePreviousValue`` back as an int, sees it changed, and then updates
    resources whose Condition is false)."""
    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation import cloudformation_backends, parsing

    clean_json = parsing.clean_json
    build_resource_diff = parsing.ResourceMap.build_resource_diff

    def diff_as_text(self: Any, other: Any, parameters: Any = None) -> Any:
        texts = None if parameters is None else {k: str(v) for k, v in parameters.items()}
        return build_resource_diff(self, other, texts)

    def drop_novalue_items(resource_json: Any, resources_map: Any) -> Any:
        cleaned = clean_json(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(cleaned, list):
            return [item for item in cleaned if item is not None]
        return cleaned

    with FakeServer() as api, FakeServer() as responses:

        def invoke(self: Any, body: str, *args: Any, **kwargs: Any) -> str:
            event = json.loads(body)
            event["ResponseURL"] = responses.base_url + "/cfn-response"
            event["ResourceProperties"]["ApiUrl"] = api.base_url + API_PATH
            code = deployed_code(self.code_bytes)
            code.CLOCK = FakeClock()  # its budget in fake time, whatever the machine's speed
            code.handler(event, FakeContext(30))
            answer = next(
                (
                    r.json()
                    for r in reversed(responses.requests)
                    if r.json()["RequestId"] == event["RequestId"]
                ),
                None,  # no answer: a stack the test no longer waits for (moto's thread ran late)
            )
            # moto ignores FAILED: the stack stays pending
            if answer is not None and answer["Status"] == "SUCCESS":
                _, _, _, region, account, _ = event["StackId"].split(":", 5)
                stack = cloudformation_backends[account][region].get_stack(event["StackId"])
                stack.get_custom_resource(event["LogicalResourceId"]).set_data(
                    answer.get("Data") or {}
                )
                stack.verify_readiness()
            return ""

        with (
            mock.patch.object(parsing, "clean_json", drop_novalue_items),
            mock.patch.object(parsing.ResourceMap, "build_resource_diff", diff_as_text),
            mock.patch.object(LambdaFunction, "invoke", invoke),
        ):
            yield Reporter(api, responses)


@functools.cache
def deployed_code(zipped: bytes) -> Any:
    """The ``index.py`` the stack's own template put in the function, as a module."""
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        return load_index(archive.read("index.py").decode("utf-8"))


# A moto deployment ends in 0.1-0.3 s (median; 0.84 s the slowest of 28, measured with
# two CPU-bound processes and both xdist workers busy, load average 11-16): 30 s is a margin
# of 35x over that, and a stack still in progress then fails saying so.
DEPLOY_TIMEOUT = 30.0


def deploy(template: Any, name: str = "clazar", **parameters: str) -> dict[str, Any]:
    """Create the stack (with DEPLOY_VALUES for the required parameters) and wait for it."""
    cfn = boto3.client("cloudformation")
    declared = template.to_dict().get("Parameters", {})
    values = {k: v for k, v in {**DEPLOY_VALUES, **parameters}.items() if k in declared}
    cfn.create_stack(
        StackName=name,
        TemplateBody=to_json(template),  # moto's YAML loader mangles !Condition
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    deadline = time.monotonic() + DEPLOY_TIMEOUT
    while True:
        (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            return dict(stack)
        assert time.monotonic() < deadline, f"{name} still {stack['StackStatus']}"
        time.sleep(0.05)


@functools.cache
def client(service: str, region: str | None = None, endpoint: str | None = None) -> Any:
    """A boto3 client, made once per endpoint (making one takes tens of milliseconds)."""
    return boto3.client(service, region_name=region, endpoint_url=endpoint)


class _Concrete:
    """Turns a resolved template value into what AWS would see (ARNs, names, URLs)."""

    def __init__(self, stack: dict[str, Any], resolved: dict[str, Any]) -> None:
        _, partition, _, region, account, _ = stack["StackId"].split(":", 5)
        self.client = functools.partial(client, endpoint=os.environ.get("AWS_ENDPOINT_URL"))
        cfn = self.client("cloudformation")
        summaries = cfn.list_stack_resources(StackName=stack["StackName"])
        self.physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in summaries["StackResourceSummaries"]
        }
        self.pseudo = {
            "AWS::Partition": partition,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::StackName": stack["StackName"],
            "AWS::StackId": stack["StackId"],
        }
        self.types = {k: v["Type"] for k, v in resolved["Resources"].items()}
        (described,) = cfn.describe_stacks(StackName=stack["StackName"])["Stacks"]
        got = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        self.outputs = {  # a custom resource's attributes, as the stack's outputs give them
            tuple(body["Value"]["Fn::GetAtt"]): got[name]
            for name, body in resolved.get("Outputs", {}).items()
            if isinstance(body.get("Value"), dict) and "Fn::GetAtt" in body["Value"] and name in got
        }

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(item) for item in node]
        if not isinstance(node, dict):
            return node
        if list(node) == ["Ref"]:
            return self.pseudo.get(node["Ref"]) or self.physical[node["Ref"]]
        if list(node) == ["Fn::GetAtt"]:
            return self.attribute(*node["Fn::GetAtt"])
        if list(node) == ["Fn::Sub"]:
            return re.sub(r"\$\{([^}]+)\}", lambda m: self.variable(m.group(1)), node["Fn::Sub"])
        return {key: self(value) for key, value in node.items()}

    def variable(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        logical, _, attr = name.partition(".")
        return self.attribute(logical, attr) if attr else self.physical[logical]

    def attribute(self, logical: str, attr: str) -> str:
        physical, kind = self.physical[logical], self.types[logical]
        if (logical, attr) in self.outputs:
            return self.outputs[logical, attr]
        assert attr == "Arn", f"{logical}.{attr}"
        if kind == "AWS::S3::Bucket":
            return f"arn:{self.pseudo['AWS::Partition']}:s3:::{physical}"
        if kind == "AWS::SQS::Queue":
            got = self.client("sqs").get_queue_attributes(
                QueueUrl=physical, AttributeNames=["QueueArn"]
            )
            return str(got["Attributes"]["QueueArn"])
        if kind == "AWS::IAM::Role":
            return str(self.client("iam").get_role(RoleName=physical)["Role"]["Arn"])
        if kind == "AWS::Logs::LogGroup":
            partition, region = self.pseudo["AWS::Partition"], self.pseudo["AWS::Region"]
            account = self.pseudo["AWS::AccountId"]
            return f"arn:{partition}:logs:{region}:{account}:log-group:{physical}:*"
        if kind == "AWS::KMS::Key":
            return str(self.client("kms").describe_key(KeyId=physical)["KeyMetadata"]["Arn"])
        if kind == "AWS::Events::Rule":  # the physical ID is the rule's name
            return str(self.client("events").describe_rule(Name=physical)["Arn"])
        raise AssertionError(f"no ARN for {kind}")


def finish_what_moto_skips(template: Any, stack: dict[str, Any], **parameters: str) -> None:
    """Make what moto skipped (see the module docstring) from the template resolved with the
    stack's parameters, as CloudFormation would have."""
    data = template.to_dict()
    declared = data.get("Parameters", {})
    values = {k: v for k, v in {**DEPLOY_VALUES, **parameters}.items() if k in declared}
    resolved = resolve(data, values)
    concrete = _Concrete(stack, resolved)
    s3, sqs, sns, iam = (concrete.client(s) for s in ("s3", "sqs", "sns", "iam"))
    skipped = {
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::Subscription",
    }
    for logical, res in resolved["Resources"].items():
        kind = res["Type"]
        props = concrete(res.get("Properties", {})) if kind in skipped else res["Properties"]
        document = json.dumps(props.get("PolicyDocument"))
        if kind == "AWS::S3::BucketPolicy":
            s3.put_bucket_policy(Bucket=props["Bucket"], Policy=document)
        elif kind == "AWS::SQS::QueuePolicy":
            for queue in props["Queues"]:
                sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": document})
        elif kind == "AWS::SNS::TopicPolicy":
            for topic in props["Topics"]:
                sns.set_topic_attributes(
                    TopicArn=topic, AttributeName="Policy", AttributeValue=document
                )
        elif kind == "AWS::SNS::Subscription":
            concrete.client("sns", props.get("Region")).subscribe(
                TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
            )
        elif kind == "AWS::S3::Bucket" and "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=concrete.physical[logical],
                PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"],
            )
        elif kind == "AWS::IAM::Role":
            name = concrete.physical[logical]
            for arn in concrete(props.get("ManagedPolicyArns", [])):
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
            for inline in props.get("Policies", []):  # moto keeps them as Python repr text
                iam.put_role_policy(
                    RoleName=name,
                    PolicyName=inline["PolicyName"],
                    PolicyDocument=json.dumps(concrete(inline["PolicyDocument"])),
                )
