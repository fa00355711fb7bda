"""``upgrade`` and EnableEventBridge: a new default never reaches a deployed stack by itself
(an upgrade keeps each previous value), so the plan names it; and a stack outside us-east-1
that keeps EnableEventBridge=true is refused before any change set, since the new template's
Rules would refuse it (moto evaluates no Rules: the refusal comes from ours)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from clazar_templates.aws.upgrade import UpgradeInputError, plan_upgrade
from clazar_templates.options import EVENTS_PARAMETER, EVENTS_REFUSAL
from test_upgrade import STACK, change_sets, create, small, target, with_statement

pytestmark = pytest.mark.slow


def with_events(template: dict[str, Any], default: str, rule: bool) -> dict[str, Any]:
    """``template`` with an EnableEventBridge parameter (and, if ``rule``, our region Rule)."""
    out = copy.deepcopy(template)
    out["Parameters"][EVENTS_PARAMETER] = {
        "Type": "String",
        "AllowedValues": ["true", "false"],
        "Default": default,
    }
    if rule:
        out["Rules"] = {
            "EventBridgeOnlyInUsEast1": {
                "RuleCondition": {"Fn::Equals": [{"Ref": EVENTS_PARAMETER}, "true"]},
                "Assertions": [
                    {
                        "Assert": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                        "AssertDescription": EVENTS_REFUSAL,
                    }
                ],
            }
        }
    return out


def deploy(region: str, template: dict[str, Any], events: str | None) -> Any:
    client = boto3.client("cloudformation", region_name=region)
    if events is None:
        create(client, template)
        return client
    client.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": "ExternalId", "ParameterValue": "ext-0001"},
            {"ParameterKey": EVENTS_PARAMETER, "ParameterValue": events},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    return client


def test_a_changed_default_is_named_with_how_to_take_it(aws: None, tmp_path: Path) -> None:
    client = deploy("us-east-1", with_events(small(), "false", rule=False), None)
    new = with_events(with_statement(), "true", rule=True)
    plan = plan_upgrade(STACK, target(tmp_path, new), client=client)
    notes = {n.name: (n.change, n.detail) for n in plan.parameters}
    assert notes[EVENTS_PARAMETER] == (
        "default changed",
        "EnableEventBridge stays false; the new default is true: `--param EnableEventBridge=true`",
    )
    assert "`--param EnableEventBridge=true`" in plan.to_markdown()
    taken = plan_upgrade(
        STACK, target(tmp_path, new), client=client, parameters={EVENTS_PARAMETER: "true"}
    )
    assert all(n.change != "default changed" for n in taken.parameters)


def test_outside_us_east_1_event_bridge_true_is_refused_before_a_change_set(
    aws: None, tmp_path: Path
) -> None:
    region = "eu-west-1"
    client = deploy(region, with_events(small(), "false", rule=False), "true")
    new = target(tmp_path, with_events(with_statement(), "true", rule=True))
    with pytest.raises(UpgradeInputError) as raised:
        plan_upgrade(STACK, new, client=client, region=region)
    message = str(raised.value)
    assert f"stack {STACK} in {region}: refused: {EVENTS_REFUSAL}" in message
    assert message.endswith("pass --param EnableEventBridge=false")
    assert change_sets(client) == []
    plan = plan_upgrade(
        STACK, new, client=client, region=region, parameters={EVENTS_PARAMETER: "false"}
    )
    assert plan.region == region
