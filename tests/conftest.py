"""Shared fixtures: moto's CloudFormation with the real reporter handler run in-process.

moto runs a custom resource's Lambda only through Docker; ``moto_deploy.reporter_in_process``
runs the shipped handler in this process instead, against a local fake of Clazar's API, and
hands the handler's answer back to moto, as CloudFormation would.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest

from clazar_templates import to_json
from moto_deploy import DEPLOY_TIMEOUT, reporter_in_process
from reporter_support import FakeServer
from support import ACCOUNT, DEPLOY_VALUES, EXTERNAL_ID, UID, VENDOR

REGION = "us-east-1"
pytest_plugins = ["reporter_deadlines"]  # measures the reporter's deadlines beside the suite


@pytest.hookimpl(tryfirst=True)  # before reporter_deadlines moves its test to the very end
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first, so that on xdist's workers they run side by side from the
    start, and the many short ones fill in around them, rather than ending the run with one
    worker still busy: hypothesis-driven tests (tens of seconds each), then the slow ones."""

    def weight(item: pytest.Item) -> int:
        function = getattr(item, "function", None)
        if getattr(function, "is_hypothesis_test", False) and item.get_closest_marker("slow"):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=weight)  # stable: file order within each weight


def pytest_configure(config: pytest.Config) -> None:
    import shared_setup

    shared_setup.one_botocore_loader()


def pytest_collection_finish(session: pytest.Session) -> None:
    """moto's CloudFormation (about 0.9 s to import) runs only in tests marked slow."""
    if any(item.get_closest_marker("slow") for item in session.items):
        import shared_setup

        shared_setup.moto_parses_with_libyaml()


ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "MOTO_ACCOUNT_ID": ACCOUNT,
}


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for every AWS call, in the seller's account."""
    from moto import mock_aws

    with mock.patch.dict(os.environ, ENVIRONMENT), mock_aws():
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

    def wait(self, name: str, timeout: float = DEPLOY_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            (stack,) = self.client.describe_stacks(StackName=name)["Stacks"]
            if not stack["StackStatus"].endswith("IN_PROGRESS"):
                return dict(stack)
            if self.failed(stack["StackId"]):
                stack["StackStatus"] = "CREATE_FAILED"  # moto ignores FAILED answers
                return dict(stack)
            assert time.monotonic() < deadline, f"{name} still {stack['StackStatus']}"
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


@contextlib.contextmanager
def moto_cloudformation() -> Iterator[Deployment]:
    """A fresh, empty moto account with CloudFormation and the in-process reporter.

    Entering ``mock_aws`` resets every moto backend, so each ``with`` starts from nothing:
    tests that deploy many times in one function (hypothesis examples) use it directly.
    """
    import boto3
    from moto import mock_aws

    with (
        mock.patch.dict(os.environ, ENVIRONMENT),
        mock_aws(),
        reporter_in_process() as fakes,
    ):
        client = boto3.client("cloudformation", region_name=REGION)
        yield Deployment(fakes.api, fakes.responses, client)


@pytest.fixture
def cloudformation() -> Iterator[Deployment]:
    """moto's CloudFormation in the seller's account, with the in-process reporter."""
    with moto_cloudformation() as deployment:
        yield deployment


def flag_samples(options_class: type[Any]) -> list[dict[str, Any]]:
    """Build-time settings sampling an options class's flags (and numbers): every one on,
    every one off, and each one alone the other way. Every flag's both sides in 2 + 2n
    settings instead of 2^n, so a new flag adds two cases, not twice as many. A number is
    a valid non-zero value with the flags on and 0 (which turns something off) with them off.
    """
    from clazar_templates.options import option_fields

    specs = dict(option_fields(options_class))
    flags = [n for n, s in specs.items() if s.kind.is_flag]
    numbers = [n for n, s in specs.items() if s.kind.is_number]
    out: list[dict[str, Any]] = []
    for base in (True, False):
        common = {
            n: valid_value(specs[n]) if base else specs[n].kind.min_value or 0 for n in numbers
        }
        out.append({**dict.fromkeys(flags, base), **common})
        out += [{**dict.fromkeys(flags, base), flag: not base, **common} for flag in flags]
    return list({repr(sorted(s.items())): s for s in out}.values())  # without repeats


def valid_value(spec: Any) -> Any:
    """A valid build-time value for an option (``spec`` from ``option_fields``), by its kind.

    Existing-resource options get a resource (not ""), so every branch of the template is
    exercised. A kind added later fails here, naming the parameter, until it has an entry.
    """
    from clazar_templates import options as o

    if spec.kind.is_flag:
        return True
    if spec.kind.is_number:  # above the least value, which may turn something off
        return (spec.kind.min_value or 0) + 30
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
