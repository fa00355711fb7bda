"""Subscriptions: each subscription the template makes exists, and a queue policy admits it.

Proves notifications arrive: the topic lists the subscription (same protocol and endpoint),
and one of the queue policies read by the queue policy check accepts the topic as
``aws:SourceArn``. Listing a topic the seller brought may be refused (WARN); listing the
stack's own may not (FAIL).
"""

from __future__ import annotations

from typing import Any

from ...template.reading import as_list, statements
from ..errors import aws_message
from .report import FAIL, OK, WARN
from .run import CheckRun

__all__ = ["check_subscriptions"]


def check_subscriptions(run: CheckRun) -> None:
    """Each subscription the template makes exists, and a queue policy admits it."""
    for logical, props in run.of_type("AWS::SNS::Subscription"):
        topic = str(run.value(props.get("TopicArn")))
        ours = isinstance(props.get("TopicArn"), dict)  # a Ref: the stack's own topic
        subject = f"subscription {topic.rsplit(':', 1)[-1]}"
        region = props.get("Region") or (topic.split(":") + [""] * 4)[3] or None
        try:
            endpoint = run.value(props.get("Endpoint"))
            sns = run.client("sns", region)
            pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
            subscribed = any(
                s["Protocol"] == props.get("Protocol") and s["Endpoint"] == endpoint
                for page in pages
                for s in page["Subscriptions"]
            )
        except run.errors as error:
            run.record(FAIL if ours else WARN, subject, f"cannot list: {aws_message(error)}")
            continue
        if not subscribed:
            run.record(FAIL, subject, f"{logical}: {endpoint} is not subscribed")
        elif not any(topic in source_arns(doc) for doc in run.queue_policies):
            run.record(FAIL, subject, "no queue policy lets this topic deliver")
        else:
            run.record(OK, subject, f"delivers to {str(endpoint).rsplit(':', 1)[-1]}")


def source_arns(document: dict[str, Any]) -> list[str]:
    """Every aws:SourceArn an Allow statement of a queue policy accepts."""
    arns: list[str] = []
    for st in statements(document):
        condition = st.get("Condition")
        if st.get("Effect") == "Allow" and isinstance(condition, dict):
            for tests in condition.values():
                arns += as_list(tests.get("aws:SourceArn")) if isinstance(tests, dict) else []
    return arns
