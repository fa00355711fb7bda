"""Queues and EventBridge rules, shared by both stacks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from troposphere import Equals, GetAtt, Ref, events, sqs

from .. import policies as p
from .base import Flag, StackBuilder
from .suppressions import SSE_SQS, scanner_metadata

FOURTEEN_DAYS = 1_209_600  # seconds: SQS's longest retention, for when Clazar is down
EVENTS_REGION = "us-east-1"


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
    over TLS that every queue of these stacks carries."""
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
    """Whether the EventBridge rules exist: the option is on and the stack is in us-east-1,
    the only region where AWS publishes Marketplace and Partner Central events."""
    enabled = b.flag("enable_event_bridge")
    if enabled is False:
        return False
    in_region = b.condition("InUsEast1", Equals(Ref("AWS::Region"), EVENTS_REGION))
    return b.all_of("CreateEventRules", enabled, in_region)


def add_rules(
    b: StackBuilder, rules: dict[str, tuple[str, str]], queue: str, when: Flag
) -> list[Any]:
    """One rule per ``{logical ID: (event source, description)}`` delivering to ``queue``.
    Returns the rules' ARNs (for the queue policy's aws:SourceArn)."""
    for logical, (source, description) in rules.items():
        b.add(
            events.Rule(
                logical,
                Description=description,
                EventPattern={"source": [source]},
                State="ENABLED",
                Targets=[events.Target(Id=queue, Arn=GetAtt(queue, "Arn"))],
            ),
            when,
        )
    return [GetAtt(logical, "Arn") for logical in rules]
