"""What ``check`` reports: one result per check made, and whether the stack is connected."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FAIL", "OK", "WARN", "CheckReport", "CheckResult", "Progress"]

OK, WARN, FAIL = "ok", "warn", "FAIL"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CheckResult:
    status: str  # ok, warn or FAIL
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.status:<4} {self.subject}: {self.detail}"


@dataclass
class CheckReport:
    """Every check made, in order; Connected when none failed."""

    stack_name: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return bool(self.results) and all(r.status != FAIL for r in self.results)

    @property
    def reason(self) -> str:
        """The first failure (and how many more), or "" when connected."""
        failures = [r for r in self.results if r.status == FAIL]
        if not failures:
            return ""
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        return f"{failures[0].subject}: {failures[0].detail}{more}"

    @property
    def summary(self) -> str:
        return "Connected" if self.connected else f"Error: {self.reason}"
