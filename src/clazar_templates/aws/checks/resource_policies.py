"""Queue and topic policies: present, with every statement the template gives them.

Proves the services can deliver: each queue and topic policy of the template is on its queue
or topic with every one of the template's statements (by Sid), FAIL when the policy or a
statement is missing. The queue policies read are kept for the subscription check.
"""

from __future__ import annotations

from typing import Any

from ..errors import aws_message
from .report import FAIL, OK
from .run import CheckRun, document, sids

__all__ = ["check_resource_policies", "check_sids"]


def check_resource_policies(run: CheckRun) -> None:
    """Queue and topic policies: present, with every statement the template has."""
    sqs, sns = run.client("sqs"), run.client("sns")
    for _, props in run.of_type("AWS::SQS::QueuePolicy"):
        for queue in props.get("Queues", []):
            url = run.value(queue)
            subject = f"queue {str(url).rsplit('/', 1)[-1]} policy"
            try:
                got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
            except run.errors as error:
                run.record(FAIL, subject, aws_message(error))
                continue
            text = got.get("Attributes", {}).get("Policy")
            run.queue_policies.append(check_sids(run, subject, props["PolicyDocument"], text))
    for _, props in run.of_type("AWS::SNS::TopicPolicy"):
        for topic in props.get("Topics", []):
            arn = run.value(topic)
            subject = f"topic {str(arn).rsplit(':', 1)[-1]} policy"
            try:
                text = sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy")
            except run.errors as error:
                run.record(FAIL, subject, aws_message(error))
                continue
            check_sids(run, subject, props["PolicyDocument"], text)


def check_sids(
    run: CheckRun, subject: str, expected: dict[str, Any], text: str | None
) -> dict[str, Any]:
    """Record whether the policy ``text`` has every statement of ``expected``; the
    policy as read ({} when there is none)."""
    try:
        found = document(text) if text else {}
    except ValueError:
        run.record(FAIL, subject, "the policy is not JSON")
        return {}
    missing = [sid for sid in sids(expected) if sid not in sids(found)]
    if not text:
        run.record(FAIL, subject, "no policy")
    elif missing:
        run.record(FAIL, subject, "missing statements " + ", ".join(missing))
    else:
        run.record(OK, subject, ", ".join(sids(expected)))
    return found
