"""Queues and EventBridge rules, shared by both stacks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from troposphere import Equals, GetAtt, Ref, events, sqs

from .. import policies as p
from ..options import EVENTS_REFUSAL, EVENTS_REGION
from .base import Flag, StackBuilder
from .suppressions import SSE_SQS, scanner_metadata

FOURTEEN_DAYS = 1_209_600  # seconds: SQS's longest retention, for when Clazar is down
QUEUE_POLICY_STATEMENTS = 20  # SQS: at most 20 statements in a queue's access policy
EVENT_RETRY_ATTEMPTS = 185  # EventBridge's most (and default): retried with backoff...
EVENT_MAX_AGE = 86_400  # ...for up to 24 hours (its most), then sent to the dead letters
REGION_RULE = "EventBridgeOnlyInUsEast1"


def dead_letter_queue(name: str) -> str:
    """The logical ID of queue ``name``'s dead-letter queue."""
    return f"{name.removesuffix('Queue')}DeadLetterQueue"


def add_queue(
    b: StackBuilder, name: str, when: Flag = True, dead_letter_statements: Sequence[Any] = ()
) -> tuple[Any, Any]:
    """``name`` and ``<name>DeadLetterQueue`` (after 5 failed receives), both SSE-SQS and
    TLS-only, kept 14 days; deleted with the stack (they hold notifications, not records).
    Returns the two ARNs. The queue's own policy is the caller's (it says who may send);
    the dead-letter queue's policy holds ``dead_letter_statements`` (who may read it: a
    queue's policy grants nothing on another queue) and the TLS-only deny."""
    dlq_name = dead_letter_queue(name)
    common = {
        "SqsManagedSseEnabled": True,  # SNS and EventBridge can deliver to SSE-SQS queues
        "MessageRetentionPeriod": FOURTEEN_DAYS,
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Metadata": scanner_metadata(SSE_SQS),
    }
    b.add(sqs.Queue(dlq_name, **common), when)
    b.add(
        sqs.Queue(
            name,
            VisibilityTimeout=300,
            RedrivePolicy=sqs.RedrivePolicy(
                deadLetterTargetArn=GetAtt(dlq_name, "Arn"), maxReceiveCount=5
            ),
            **common,
        ),
        when,
    )
    add_queue_policy(b, f"{dlq_name}Policy", dlq_name, dead_letter_statements, when)
    return GetAtt(name, "Arn"), GetAtt(dlq_name, "Arn")


def add_queue_policy(
    b: StackBuilder, logical: str, queue: str, statements: Sequence[Any], when: Flag = True
) -> None:
    """``logical``, the policy of ``queue``: ``statements``, then the deny of anything not
    over TLS that every queue of these stacks carries (at most QUEUE_POLICY_STATEMENTS)."""
    if len(statements) + 1 > QUEUE_POLICY_STATEMENTS:
        raise ValueError(
            f"{logical}: {len(statements) + 1} statements, over SQS's "
            f"{QUEUE_POLICY_STATEMENTS} per queue policy"
        )
    b.add(
        sqs.QueuePolicy(
            logical,
            Queues=[Ref(queue)],
            PolicyDocument=p.document(
                *statements,
                p.deny_insecure_transport([p.Action("sqs", "*")], [GetAtt(queue, "Arn")]),
            ),
        ),
        when,
    )


def event_rules_flag(b: StackBuilder) -> Flag:
    """Whether the EventBridge rules exist: the option. AWS publishes Marketplace and Partner
    Central events in us-east-1 only, so a stack asked for them elsewhere is refused before
    anything is created (a template Rule) rather than left silently without them."""
    enabled = b.flag("enable_event_bridge")
    b.rule(REGION_RULE, enabled, Equals(Ref("AWS::Region"), EVENTS_REGION), EVENTS_REFUSAL)
    return enabled


def rule_arns(rules: Mapping[str, Any]) -> list[Any]:
    """The ARNs of ``rules`` (by logical ID), for the queue policies' aws:SourceArn."""
    return [GetAtt(logical, "Arn") for logical in rules]


def add_rules(
    b: StackBuilder, rules: Mapping[str, tuple[tuple[str, ...], str]], queue: str, when: Flag
) -> list[Any]:
    """One rule per ``{logical ID: (event sources, description)}`` on the default bus,
    delivering every event of those sources to ``queue``: retried for up to a day, then put
    in the queue's dead-letter queue rather than dropped. No RoleArn: SQS targets are
    authorised by the queue policies. Returns the rules' ARNs."""
    dead_letters = GetAtt(dead_letter_queue(queue), "Arn")
    for logical, (sources, description) in rules.items():
        b.add(
            events.Rule(
                logical,
                Description=description,
                EventPattern={"source": list(sources)},
                State="ENABLED",
                Targets=[
                    events.Target(
                        Id=queue,
                        Arn=GetAtt(queue, "Arn"),
                        DeadLetterConfig=events.DeadLetterConfig(Arn=dead_letters),
                        RetryPolicy=events.RetryPolicy(
                            MaximumRetryAttempts=EVENT_RETRY_ATTEMPTS,
                            MaximumEventAgeInSeconds=EVENT_MAX_AGE,
                        ),
                    )
                ],
            ),
            when,
        )
    return rule_arns(rules)
