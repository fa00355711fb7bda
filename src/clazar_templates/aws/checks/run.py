"""One run of the checks against one stack: what the checks share.

The seller's session and its clients, the report each check records to, and what the
stack check read (the stack's resources from our template, resolved; their physical IDs;
the stack's outputs), so the later checks can find what they compare.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from ...template.reading import statements
from ..errors import aws_errors
from .concrete import UNKNOWN, Concrete
from .report import CheckReport, CheckResult, Progress

__all__ = ["CheckRun", "document", "sids"]


class CheckRun:
    """The state one run of the checks shares (filled in by the stack check)."""

    def __init__(
        self,
        session: Any,
        stack_name: str,
        region: str,
        say: Progress,
        client_config: dict[str, Any],
    ) -> None:
        self.session = session
        self.region = region
        self.report = CheckReport(stack_name)
        self.say = say
        self.client_config = client_config
        self.physical: dict[str, str] = {}
        self.resources: dict[str, Any] = {}
        self.outputs: dict[str, str] = {}
        self.partition = "aws"
        self.concrete = Concrete(f"arn:aws:cloudformation:{region}::stack/{stack_name}/", {}, {})
        # (replaced by the stack's own once it is read)
        self.errors = aws_errors()
        self.queue_policies: list[dict[str, Any]] = []
        self.clients: dict[tuple[str, str], Any] = {}

    def record(self, status: str, subject: str, detail: str) -> None:
        result = CheckResult(status, subject, " ".join(detail.split()))  # one line each
        self.report.results.append(result)
        self.say(str(result))

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of the seller's session, made once (making one takes tens of ms)."""
        from botocore.config import Config

        key = (service, region or self.region)
        if key not in self.clients:
            config = Config(**self.client_config)
            self.clients[key] = self.session.client(service, region_name=key[1], config=config)
        return self.clients[key]

    def of_type(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical, res in self.resources.items():
            if res["Type"] == kind:
                yield logical, res.get("Properties", {})

    def value(self, node: Any) -> Any:
        """A resolved template value made concrete (Refs to the stack's resources are their
        physical IDs, ARNs are built from them); None if it cannot be."""
        found = self.concrete(node)
        return None if UNKNOWN in json.dumps(found) else found


def document(value: Any) -> dict[str, Any]:
    """A policy document from an API answer: a dict, JSON text, or URL-encoded JSON."""
    if isinstance(value, dict):
        return value
    text = str(value)
    return dict(json.loads(unquote(text) if text.startswith("%7B") else text))


def sids(policy: dict[str, Any]) -> list[str]:
    """The Sids of the policy's statements, in order."""
    return [st["Sid"] for st in statements(policy) if "Sid" in st]
