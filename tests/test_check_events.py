"""``check`` verifies the EventBridge rules both stacks make (on by default): enabled, the
template's sources, the target queue, its dead letters and retry policy, and a queue policy
that admits the rule. Against moto's server, like tests/test_check.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from clazar_templates import build_cosell, build_marketplace, check
from clazar_templates.aws.checks import OK
from clazar_templates.stacks import cosell, marketplace
from moto_deploy import reporter_in_process
from test_check import STACK, deployed, failures, physical, statuses

pytest_plugins = ["moto_server"]  # the aws_endpoint fixture
pytestmark = pytest.mark.slow


@pytest.fixture
def session() -> Any:
    return boto3.Session()


@pytest.fixture
def reporter(aws_endpoint: str) -> Iterator[None]:
    with reporter_in_process():
        yield


@pytest.mark.parametrize(
    ("build", "rules"),
    [(build_marketplace, marketplace.EVENT_RULES), (build_cosell, cosell.EVENT_RULES)],
    ids=["marketplace", "cosell"],
)
def test_rules_are_checked_and_each_breakage_named(
    reporter: None, session: Any, build: Any, rules: dict[str, Any]
) -> None:
    deployed(build=build)  # the defaults: EnableEventBridge=true, in us-east-1
    report = check(STACK, session=session)
    assert report.summary == "Connected", failures(report)
    names = {logical: physical(logical) for logical in rules}
    found = statuses(report)
    assert {f"rule {name}" for name in names.values()} <= set(found)
    assert all(found[f"rule {name}"] == OK for name in names.values())

    events = boto3.client("events")
    logical, name = next(iter(names.items()))
    events.disable_rule(Name=name)
    (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
    events.put_targets(Rule=name, Targets=[{"Id": target["Id"], "Arn": target["Arn"]}])
    (failed,) = failures(check(STACK, session=session))
    assert failed.startswith(f"rule {name}: {logical}: its state is DISABLED, not ENABLED")
    assert "has no dead-letter queue" in failed
    assert "retries as None" in failed
