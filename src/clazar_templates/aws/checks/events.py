"""EventBridge rules: each rule the template makes is enabled, matches the template's event
sources, delivers to the template's queue with its dead-letter queue and retry policy, and a
queue policy admits it.

Proves Marketplace and Partner Central events arrive, and that an event EventBridge could
not deliver is kept rather than dropped. A rule is read by the name the stack gave it (its
physical ID), on the default bus, where AWS publishes these events.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import aws_message
from .report import FAIL, OK
from .run import CheckRun
from .subscriptions import source_arns

__all__ = ["check_event_rules"]


def check_event_rules(run: CheckRun) -> None:
    """Each rule exists, is ENABLED, matches its sources and delivers as the template says."""
    for logical, props in run.of_type("AWS::Events::Rule"):
        name = run.physical.get(logical, logical)
        subject = f"rule {name}"
        events = run.client("events")
        try:
            rule = events.describe_rule(Name=name)
            targets = events.list_targets_by_rule(Rule=name)["Targets"]
        except run.errors as error:
            run.record(FAIL, subject, f"cannot read: {aws_message(error)}")
            continue
        problems = _problems(run, props, rule, targets)
        if problems:
            run.record(FAIL, subject, f"{logical}: " + "; ".join(problems))
        else:
            sources = ", ".join(props.get("EventPattern", {}).get("source", []))
            run.record(OK, subject, f"{sources} to {_queues(run, props)}, with dead letters")


def _problems(
    run: CheckRun, props: dict[str, Any], rule: dict[str, Any], targets: list[dict[str, Any]]
) -> list[str]:
    problems = []
    if rule.get("State") != "ENABLED":
        problems.append(f"its state is {rule.get('State')}, not ENABLED")
    want = sorted(props.get("EventPattern", {}).get("source", []))
    try:
        got = sorted(json.loads(rule.get("EventPattern") or "{}").get("source", []))
    except ValueError:
        got = []
    if got != want:
        problems.append(f"matches sources {', '.join(got) or 'none'}, not {', '.join(want)}")
    found = {t.get("Id"): t for t in targets}
    for expected in props.get("Targets", []):
        target = found.get(expected.get("Id"))
        if target is None:
            problems.append(f"has no target {expected.get('Id')}")
            continue
        if target.get("Arn") != run.value(expected.get("Arn")):
            problems.append(f"target {expected['Id']} delivers to {target.get('Arn')}")
        dead = run.value(expected.get("DeadLetterConfig", {}).get("Arn"))
        if dead and target.get("DeadLetterConfig", {}).get("Arn") != dead:
            problems.append(f"target {expected['Id']} has no dead-letter queue {dead}")
        if expected.get("RetryPolicy") and target.get("RetryPolicy") != expected["RetryPolicy"]:
            problems.append(
                f"target {expected['Id']} retries as {target.get('RetryPolicy')}, not "
                f"{expected['RetryPolicy']}"
            )
    arn = rule.get("Arn")
    if not any(arn in source_arns(doc) for doc in run.queue_policies):
        problems.append("no queue policy lets this rule deliver")
    return problems


def _queues(run: CheckRun, props: dict[str, Any]) -> str:
    arns = [str(run.value(t.get("Arn"))) for t in props.get("Targets", [])]
    return ", ".join(a.rsplit(":", 1)[-1] for a in arns)
