"""Assume: with the vendor's credentials, each role can be assumed with the external ID.

Proves, as Clazar itself would do it, that the trust works end to end: ``sts:AssumeRole`` on
every role the stack outputs, with the stack's external ID, succeeds (FAIL otherwise).
"""

from __future__ import annotations

from typing import Any

from ..errors import aws_message
from .report import FAIL, OK
from .run import CheckRun

__all__ = ["check_assume"]


def check_assume(run: CheckRun, vendor: Any, arns: list[str], external_id: str | None) -> None:
    """Assume each role of ``arns`` with the vendor's session ``vendor``."""
    sts = vendor.client("sts", region_name=run.region)
    for arn in arns:
        subject = f"assume {arn.rsplit('/', 1)[-1]}"
        try:
            sts.assume_role(
                RoleArn=arn, RoleSessionName="clazar-check", ExternalId=external_id or ""
            )
        except run.errors as error:
            run.record(FAIL, subject, f"with the external ID as the vendor: {aws_message(error)}")
        else:
            run.record(OK, subject, "the vendor can assume it with the external ID")
