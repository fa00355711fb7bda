"""EnableEventBridge (default true): every Marketplace and Partner Central event of the
documented sources delivered to a queue, retried for a day and then kept in the dead-letter
queue; the queues accept them only from the stack's own rules; a stack asked for them
outside us-east-1 is refused before anything is created (a template Rule, which moto
ignores: tested here as data)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from troposphere import Template

from clazar_templates import CosellOptions, MarketplaceOptions, build_cosell, build_marketplace
from clazar_templates.options import EVENTS_REGION
from clazar_templates.stacks import cosell, marketplace
from clazar_templates.stacks.base import StackBuilder
from clazar_templates.stacks.messaging import QUEUE_POLICY_STATEMENTS, add_queue_policy
from clazar_templates.template.render import lint, to_yaml
from clazar_templates.template.resolve import Refused, ResolveError, resolve
from conftest import Deployment
from support import as_dict, deployed

MARKETPLACE_RULES = {logical: sources for logical, (sources, _) in marketplace.EVENT_RULES.items()}
COSELL_RULES = {logical: sources for logical, (sources, _) in cosell.EVENT_RULES.items()}
# The sources AWS documents (AWS-NOTES "EventBridge and Concurrent Agreements", "Partner
# Central in 2026"): what a seller depends on receiving.
MARKETPLACE_SOURCES = {"aws.agreement-marketplace", "aws.marketplacecatalog", "aws.marketplace"}
COSELL_SOURCES = {"aws.partnercentral-selling", "aws.partnercentral-channel"}
STACKS = [
    (build_marketplace, MarketplaceOptions, MARKETPLACE_RULES, "ClazarSqsQueue"),
    (build_cosell, CosellOptions, COSELL_RULES, "ClazarCosellEventsQueue"),
]
IDS = ["marketplace", "cosell"]


def queue_statements(res: dict[str, Any], policy: str) -> dict[str, Any]:
    return {st["Sid"]: st for st in res[policy]["Properties"]["PolicyDocument"]["Statement"]}


def test_the_rules_match_every_documented_source() -> None:
    assert {s for sources in MARKETPLACE_RULES.values() for s in sources} == MARKETPLACE_SOURCES
    assert {s for sources in COSELL_RULES.values() for s in sources} == COSELL_SOURCES


@pytest.mark.parametrize(("build", "options", "rules", "queue"), STACKS, ids=IDS)
def test_on_by_default(build: Any, options: Any, rules: Any, queue: str) -> None:
    assert as_dict(build())["Parameters"]["EnableEventBridge"]["Default"] == "true"
    res = deployed(build())["Resources"]
    assert set(rules) <= set(res)


@pytest.mark.parametrize(("build", "options", "rules", "queue"), STACKS, ids=IDS)
def test_rules_deliver_sources_with_retries_and_dead_letters(
    build: Any, options: Any, rules: dict[str, tuple[str, ...]], queue: str
) -> None:
    res = deployed(build(), EnableEventBridge="true")["Resources"]
    dlq = queue.removesuffix("Queue") + "DeadLetterQueue"
    for logical, sources in rules.items():
        rule = res[logical]["Properties"]
        assert rule["EventPattern"] == {"source": list(sources)}  # sources, not detail-types
        assert rule["State"] == "ENABLED"
        assert "EventBusName" not in rule  # the default bus, where AWS publishes them
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": 185,
            "MaximumEventAgeInSeconds": 86400,
        }
        assert "RoleArn" not in target  # SQS targets are authorised by the queue policy
    rule_arns = [{"Fn::GetAtt": [logical, "Arn"]} for logical in rules]
    policy = "ClazarSqsSendPolicy" if queue == "ClazarSqsQueue" else f"{queue}Policy"
    for name, sid, arn in [
        (policy, "DeliverEventsToQueue", queue),
        (f"{dlq}Policy", "KeepUndeliveredEvents", dlq),
    ]:
        statement = queue_statements(res, name)[sid]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == ["sqs:SendMessage"]
        assert statement["Resource"] == [{"Fn::GetAtt": [arn, "Arn"]}]
        assert statement["Condition"] == {"ArnLike": {"aws:SourceArn": rule_arns}}
    report = next(r for r in res.values() if r["Type"] == "Custom::ClazarReporter")
    assert report["Properties"]["Report"]["EventBridge"] == "true"


@pytest.mark.parametrize(("build", "options", "rules", "queue"), STACKS, ids=IDS)
def test_refused_outside_us_east_1_unless_off(
    build: Any, options: Any, rules: Any, queue: str
) -> None:
    for template in (build(), build(options(enable_event_bridge=True))):
        with pytest.raises(Refused) as refused:
            deployed(template, region="eu-west-1")
        (why,) = refused.value.descriptions
        assert str(refused.value) == f"refused: {why}"
        assert "deploy this stack in us-east-1" in why
        assert "EnableEventBridge=false" in why
    for template, given in [
        (build(), {"EnableEventBridge": "false"}),
        (build(options(enable_event_bridge=False)), {}),
    ]:
        res = deployed(template, region="eu-west-1", **given)["Resources"]
        assert not set(rules) & set(res)
        assert not any(r["Type"] == "AWS::Events::Rule" for r in res.values())


def test_the_region_rule_repeats_the_parameter_test() -> None:
    """A Rule cannot name a Condition: its RuleCondition is the Condition's own test; fixed
    true, the assertion always applies; fixed false, there is no Rule."""
    template = as_dict(build_marketplace())
    (rule,) = template["Rules"].values()
    assert rule["RuleCondition"] == template["Conditions"]["EventBridgeEnabled"]
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, EVENTS_REGION]
    }
    on = as_dict(build_marketplace(MarketplaceOptions(enable_event_bridge=True)))
    assert list(on["Rules"].values()) == [{"Assertions": rule["Assertions"]}]
    off = as_dict(build_marketplace(MarketplaceOptions(enable_event_bridge=False)))
    assert "Rules" not in off
    assert "EnableEventBridge" not in off["Parameters"]
    assert not any(r["Type"] == "AWS::Events::Rule" for r in off["Resources"].values())


def test_builder_rule_inlines_nested_conditions() -> None:
    b = StackBuilder(MarketplaceOptions(), "t", "t")
    b.condition("A", {"Fn::Equals": [{"Ref": "X"}, "1"]})  # type: ignore[arg-type]
    b.condition("B", {"Fn::Not": [{"Condition": "A"}]})  # type: ignore[arg-type]
    b.rule("R", "B", {"Fn::Equals": ["a", "a"]}, "why")  # type: ignore[arg-type]
    assert b.template.rules["R"]["RuleCondition"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "X"}, "1"]}]
    }


def test_a_queue_policy_over_the_sqs_statement_limit_is_refused() -> None:
    b = StackBuilder(MarketplaceOptions(), "t", "t")
    fits = [{"Sid": str(i)} for i in range(QUEUE_POLICY_STATEMENTS - 1)]  # + the TLS deny
    add_queue_policy(b, "Fits", "Q", fits)
    with pytest.raises(ValueError, match="over SQS's 20 per queue policy"):
        add_queue_policy(b, "Over", "Q", [*fits, {"Sid": "one more"}])


@pytest.mark.parametrize("build", [build_marketplace, build_cosell], ids=IDS)
def test_the_region_rule_lints_in_every_region(build: Any) -> None:
    """cfn-lint accepts the Rule (with !Ref AWS::Region) wherever the stack may be deployed."""
    from cfnlint.helpers import REGIONS

    template: Template = build()
    assert [str(f) for f in lint(to_yaml(template), regions=REGIONS)] == []


def test_cosell_events_queue_is_read_by_the_resolved_roles() -> None:
    res = deployed(build_cosell(), EnableEventBridge="true", ExistingSandboxRole="team-sb")[
        "Resources"
    ]
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
def test_marketplace_rules_deploy_with_the_defaults(cloudformation: Deployment) -> None:
    stack = cloudformation.create(build_marketplace())  # EnableEventBridge's default: true
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    events = boto3.client("events")
    rules = events.list_rules()["Rules"]
    assert sorted(json.loads(r["EventPattern"])["source"] for r in rules) == sorted(
        list(sources) for sources in MARKETPLACE_RULES.values()
    )
    for rule in rules:
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert target["Arn"].endswith(":" + cloudformation_queue_name(stack, "ClazarSqsQueue"))
        assert target["DeadLetterConfig"]["Arn"].endswith(
            ":" + cloudformation_queue_name(stack, "ClazarSqsDeadLetterQueue")
        )
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": 185,
            "MaximumEventAgeInSeconds": 86400,
        }
    assert cloudformation.api.requests[0].json()["resources"]["EventBridge"] == "true"


@pytest.mark.slow
def test_cosell_events_deploy_with_the_defaults(cloudformation: Deployment) -> None:
    stack = cloudformation.create(build_cosell())  # EnableEventBridge's default: true
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    queues = boto3.client("sqs").list_queues()["QueueUrls"]
    assert len(queues) == 2  # the events queue and its dead-letter queue
    (rule,) = boto3.client("events").list_rules()["Rules"]
    assert all(source in rule["EventPattern"] for source in COSELL_SOURCES)
    resources = cloudformation.api.requests[0].json()["resources"]
    assert resources["EventsQueueUrl"] in queues


def cloudformation_queue_name(stack: dict[str, Any], logical: str) -> str:
    """The name of the stack's queue ``logical`` (its physical ID is the queue URL)."""
    found = boto3.client("cloudformation").describe_stack_resource(
        StackName=stack["StackName"], LogicalResourceId=logical
    )
    return str(found["StackResourceDetail"]["PhysicalResourceId"]).rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    "expression",
    [{"Fn::ValueOf": ["P", "Attr"]}, {"Ref": "AWS::AccountId"}, {"Fn::Equals": 1}],
    ids=["unknown function", "unknown value", "malformed"],
)
def test_a_rule_the_resolver_cannot_evaluate_is_an_error_not_a_pass(expression: Any) -> None:
    template = {
        "Rules": {"R": {"Assertions": [{"Assert": expression, "AssertDescription": "why"}]}},
        "Resources": {},
    }
    with pytest.raises(ResolveError, match="rule R: cannot evaluate"):
        resolve(template, {}, region="us-east-1")
