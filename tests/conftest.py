"""Shared fixtures: moto's CloudFormation with the real reporter handler run in-process.

moto runs a custom resource's Lambda only through Docker. Here its ``invoke`` runs the
shipped handler in this process instead, against a local fake of Clazar's API, and hands the
handler's answer back to moto, as CloudFormation would.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest

from clazar_templates import to_json
from clazar_templates.reporter import handler as reporter
from reporter_support import API_PATH, FakeContext, FakeServer
from support import ACCOUNT, DEPLOY_VALUES, EXTERNAL_ID, UID, VENDOR

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS call, in the seller's account."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_ACCOUNT_ID": ACCOUNT,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@dataclass
class Deployment:
    """Deploys templates into moto; ``api`` saw what the reporter sent."""

    api: FakeServer
    responses: FakeServer
    client: Any

    def create(self, template: Any, name: str = "clazar", **parameters: str) -> dict[str, Any]:
        declared = template.to_dict().get("Parameters", {})
        values = {k: v for k, v in {**DEPLOY_VALUES, **parameters}.items() if k in declared}
        self.client.create_stack(
            StackName=name,
            TemplateBody=to_json(template),  # moto's YAML loader mangles !Condition
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        return self.wait(name)

    def wait(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            (stack,) = self.client.describe_stacks(StackName=name)["Stacks"]
            if not stack["StackStatus"].endswith("IN_PROGRESS") or time.monotonic() > deadline:
                return dict(stack)
            if self.failed(stack["StackId"]):
                stack["StackStatus"] = "CREATE_FAILED"  # moto ignores FAILED answers
                return dict(stack)
            time.sleep(0.05)

    def failed(self, stack_id: str) -> dict[str, Any] | None:
        for request in self.responses.requests:
            answer = request.json()
            if answer["StackId"] == stack_id and answer["Status"] == "FAILED":
                return dict(answer)
        return None

    def outputs(self, name: str = "clazar") -> dict[str, str]:
        (stack,) = self.client.describe_stacks(StackName=name)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@pytest.fixture
def cloudformation(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    import boto3
    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation import cloudformation_backends, parsing

    clean_json = parsing.clean_json

    def drop_novalue_items(resource_json: Any, resources_map: Any) -> Any:
        # moto turns {"Ref": "AWS::NoValue"} inside a list into None; CloudFormation drops it.
        cleaned = clean_json(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(cleaned, list):
            return [item for item in cleaned if item is not None]
        return cleaned

    monkeypatch.setattr(parsing, "clean_json", drop_novalue_items)

    with FakeServer() as api, FakeServer() as responses:

        def invoke(self: Any, body: str, *args: Any, **kwargs: Any) -> str:
            event = json.loads(body)
            event["ResponseURL"] = responses.base_url + "/cfn-response"
            event["ResourceProperties"]["ApiUrl"] = api.base_url + API_PATH
            reporter.handler(event, FakeContext(30))
            answer = next(
                r.json()
                for r in reversed(responses.requests)
                if r.json()["RequestId"] == event["RequestId"]
            )
            if answer["Status"] == "SUCCESS":
                stack = cloudformation_backends[ACCOUNT][REGION].get_stack(event["StackId"])
                stack.get_custom_resource(event["LogicalResourceId"]).set_data(
                    answer.get("Data") or {}
                )
                stack.verify_readiness()
            return ""

        monkeypatch.setattr(LambdaFunction, "invoke", invoke)
        yield Deployment(api, responses, boto3.client("cloudformation", region_name=REGION))


@contextlib.contextmanager
def moto_cloudformation() -> Iterator[Deployment]:
    """A fresh, empty moto account with CloudFormation and the in-process reporter.

    The ``cloudformation`` fixture's setup as a context manager, for tests that deploy many
    times in one test function (hypothesis runs every example inside one call, where
    function-scoped fixtures would be shared). Entering ``mock_aws`` resets every moto
    backend, so each ``with`` starts from nothing.
    """
    import boto3
    from moto import mock_aws
    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation import cloudformation_backends, parsing

    clean_json = parsing.clean_json

    def drop_novalue_items(resource_json: Any, resources_map: Any) -> Any:
        # moto turns {"Ref": "AWS::NoValue"} inside a list into None; CloudFormation drops it.
        cleaned = clean_json(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(cleaned, list):
            return [item for item in cleaned if item is not None]
        return cleaned

    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_ACCOUNT_ID": ACCOUNT,
    }
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, environment))
        stack.enter_context(mock_aws())
        api = stack.enter_context(FakeServer())
        responses = stack.enter_context(FakeServer())

        def invoke(self: Any, body: str, *args: Any, **kwargs: Any) -> str:
            event = json.loads(body)
            event["ResponseURL"] = responses.base_url + "/cfn-response"
            event["ResourceProperties"]["ApiUrl"] = api.base_url + API_PATH
            reporter.handler(event, FakeContext(30))
            answer = next(
                r.json()
                for r in reversed(responses.requests)
                if r.json()["RequestId"] == event["RequestId"]
            )
            if answer["Status"] == "SUCCESS":
                found = cloudformation_backends[ACCOUNT][REGION].get_stack(event["StackId"])
                found.get_custom_resource(event["LogicalResourceId"]).set_data(
                    answer.get("Data") or {}
                )
                found.verify_readiness()
            return ""

        stack.enter_context(mock.patch.object(parsing, "clean_json", drop_novalue_items))
        stack.enter_context(mock.patch.object(LambdaFunction, "invoke", invoke))
        yield Deployment(api, responses, boto3.client("cloudformation", region_name=REGION))


def valid_value(spec: Any) -> Any:
    """A valid build-time value for an option (``spec`` from ``option_fields``), by its kind.

    Existing-resource options get a resource (not ""), so every branch of the template is
    exercised. A kind added later fails here, naming the parameter, until it has an entry.
    """
    from clazar_templates import options as o

    if spec.kind.is_flag:
        return True
    examples = {
        o.ACCOUNT: VENDOR,
        o.EXTERNAL: EXTERNAL_ID,
        o.ROLE: "SellerClazarRole",
        o.ACCOUNT_REF: UID,
        o.EXISTING_TOPIC: f"arn:aws:sns:us-west-2:{ACCOUNT}:seller-feed",
        o.EXISTING_BUCKET: "seller-feed-bucket",
        o.EXISTING_ROLE: f"arn:aws:iam::{ACCOUNT}:role/partner/SellerRole",
    }
    if spec.kind not in examples:
        raise KeyError(f"no valid example of {spec.parameter}'s kind; add one to valid_value")
    return examples[spec.kind]
