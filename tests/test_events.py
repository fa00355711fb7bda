"""EnableEventBridge: Marketplace and Partner Central events delivered to a queue, in
us-east-1 only, with the queue accepting them only from the stack's own rules."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from clazar_templates import CosellOptions, MarketplaceOptions, build_cosell, build_marketplace
from conftest import Deployment
from support import as_dict, deployed

MARKETPLACE_RULES = {
    "ClazarAgreementEventsRule": "aws.agreement-marketplace",
    "ClazarCatalogEventsRule": "aws.marketplacecatalog",
}


def queue_statements(res: dict[str, Any], policy: str) -> dict[str, Any]:
    return {st["Sid"]: st for st in res[policy]["Properties"]["PolicyDocument"]["Statement"]}


def test_marketplace_rules_deliver_to_the_queue_in_us_east_1() -> None:
    res = deployed(build_marketplace(), EnableEventBridge="true")["Resources"]
    for logical, source in MARKETPLACE_RULES.items():
        rule = res[logical]["Properties"]
        assert rule["EventPattern"] == {"source": [source]}
        assert rule["Targets"] == [
            {"Id": "ClazarSqsQueue", "Arn": {"Fn::GetAtt": ["ClazarSqsQueue", "Arn"]}}
        ]
    deliver = queue_statements(res, "ClazarSqsSendPolicy")["DeliverEventsToQueue"]
    assert deliver["Principal"] == {"Service": "events.amazonaws.com"}
    assert deliver["Action"] == ["sqs:SendMessage"]
    assert deliver["Condition"] == {
        "ArnLike": {
            "aws:SourceArn": [{"Fn::GetAtt": [logical, "Arn"]} for logical in MARKETPLACE_RULES]
        }
    }
    assert res["ClazarReporter"]["Properties"]["Report"]["EventBridge"] == "true"


@pytest.mark.parametrize(("enabled", "region"), [("true", "eu-west-1"), ("false", "us-east-1")])
def test_no_rules_off_or_outside_us_east_1(enabled: str, region: str) -> None:
    res = deployed(build_marketplace(), region=region, EnableEventBridge=enabled)["Resources"]
    assert not set(MARKETPLACE_RULES) & set(res)
    assert "DeliverEventsToQueue" not in queue_statements(res, "ClazarSqsSendPolicy")
    assert res["ClazarReporter"]["Properties"]["Report"]["EventBridge"] == "false"


def test_the_parameter_says_why_only_us_east_1() -> None:
    description = as_dict(build_marketplace())["Parameters"]["EnableEventBridge"]["Description"]
    assert "us-east-1 only" in description


def test_build_time_off_leaves_no_trace() -> None:
    template = as_dict(build_marketplace(MarketplaceOptions(enable_event_bridge=False)))
    assert "EnableEventBridge" not in template["Parameters"]
    assert "InUsEast1" not in template["Conditions"]
    assert not any(r["Type"] == "AWS::Events::Rule" for r in template["Resources"].values())


def test_cosell_events_queue_is_read_by_the_resolved_roles() -> None:
    res = deployed(build_cosell(), EnableEventBridge="true", ExistingSandboxRole="team-sb")[
        "Resources"
    ]
    rule = res["ClazarCosellEventsRule"]["Properties"]
    assert rule["EventPattern"] == {"source": ["aws.partnercentral-selling"]}
    sids = queue_statements(res, "ClazarCosellEventsQueuePolicy")
    assert sids["DeliverEventsToQueue"]["Condition"]["ArnLike"]["aws:SourceArn"] == [
        {"Fn::GetAtt": ["ClazarCosellEventsRule", "Arn"]}
    ]
    readers = sids["CosellRolesReadEvents"]
    assert readers["Principal"] == {
        "AWS": [
            {"Fn::GetAtt": ["ClazarCosellReporter", "SandboxRoleArn"]},
            {"Fn::GetAtt": ["ClazarCosellReporter", "ProductionRoleArn"]},
        ]
    }
    assert "sqs:SendMessage" not in readers["Action"]
    assert res["ClazarCosellEventsQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    off = deployed(build_cosell(), EnableEventBridge="false")["Resources"]
    assert not {"ClazarCosellEventsQueue", "ClazarCosellEventsRule"} & set(off)


READERS = {
    "AWS": [
        {"Fn::GetAtt": ["ClazarCosellReporter", "SandboxRoleArn"]},
        {"Fn::GetAtt": ["ClazarCosellReporter", "ProductionRoleArn"]},
    ]
}
DLQ_ARN = {"Fn::GetAtt": ["ClazarCosellEventsDeadLetterQueue", "Arn"]}
QUEUE_ARN = {"Fn::GetAtt": ["ClazarCosellEventsQueue", "Arn"]}


def test_cosell_roles_read_and_redrive_their_dead_letters() -> None:
    """A queue policy applies only to its own queue: the dead-letter queue's policy must grant
    the roles (whose managed policies have no SQS actions) what reading and a redrive need."""
    res = deployed(build_cosell(), EnableEventBridge="true")["Resources"]
    dlq_policy = res["ClazarCosellEventsDeadLetterQueuePolicy"]["Properties"]
    assert dlq_policy["Queues"] == [{"Ref": "ClazarCosellEventsDeadLetterQueue"}]
    dlq = queue_statements(res, "ClazarCosellEventsDeadLetterQueuePolicy")
    redrive = dlq["CosellRolesRedriveDeadLetters"]
    assert (redrive["Effect"], redrive["Principal"]) == ("Allow", READERS)
    assert redrive["Resource"] == [DLQ_ARN]
    assert set(redrive["Action"]) >= {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:StartMessageMoveTask",
        "sqs:ListMessageMoveTasks",
        "sqs:CancelMessageMoveTask",
    }
    queue = queue_statements(res, "ClazarCosellEventsQueuePolicy")
    back = queue["CosellRolesReturnDeadLetters"]  # a redrive sends as the role that starts it
    assert (back["Principal"], back["Action"], back["Resource"]) == (
        READERS,
        ["sqs:SendMessage"],
        [QUEUE_ARN],
    )
    assert queue["CosellRolesReadEvents"]["Resource"] == [QUEUE_ARN]


@pytest.mark.slow
def test_marketplace_rules_deploy(cloudformation: Deployment) -> None:
    stack = cloudformation.create(build_marketplace(), EnableEventBridge="true")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    rules = boto3.client("events").list_rules()["Rules"]
    assert sorted(r["EventPattern"] for r in rules) == sorted(
        f'{{"source": ["{s}"]}}' for s in MARKETPLACE_RULES.values()
    )
    assert cloudformation.api.requests[0].json()["resources"]["EventBridge"] == "true"


@pytest.mark.slow
def test_cosell_events_deploy(cloudformation: Deployment) -> None:
    options = CosellOptions(enable_event_bridge=True)
    stack = cloudformation.create(build_cosell(options))
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    queues = boto3.client("sqs").list_queues()["QueueUrls"]
    assert len(queues) == 2  # the events queue and its dead-letter queue
    (rule,) = boto3.client("events").list_rules()["Rules"]
    assert "aws.partnercentral-selling" in rule["EventPattern"]
    resources = cloudformation.api.requests[0].json()["resources"]
    assert resources["EventsQueueUrl"] in queues
