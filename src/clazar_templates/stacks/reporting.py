"""The reporter: a Lambda-backed custom resource that tells Clazar, once, what a stack made.

Both stacks end with it. The function's source is ``clazar_templates/reporter/handler.py``,
inlined byte for byte in both stacks (the Role & Access stack never asks it to verify roles);
what it sends and how Clazar verifies it is in
docs/reporter-protocol.md.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref, awslambda, iam, logs
from troposphere.cloudformation import CustomResource

from .. import policies as p
from ..options import GROUP_REPORT, Kind, Option
from ..reporter.shipping import source
from .base import StackBuilder
from .suppressions import INLINE_POLICY, REPORTER_FUNCTION, REPORTER_LOGS, scanner_metadata

SECRET_KEY = Option(
    "ClazarSecretKey",
    Kind(form="16-256 printable characters without spaces", pattern=r"^[!-~]{16,256}$"),
    "Clazar one-time secret key",
    "The one-time secret shown in the Clazar platform. It signs the stack's single report "
    "to Clazar and is never sent, stored in an output, or logged.",
    GROUP_REPORT,
)
RUNTIME = "python3.13"
FUNCTION_TIMEOUT = 120  # seconds; the handler answers CloudFormation before this
SERVICE_TIMEOUT = 300  # seconds CloudFormation waits for that answer
LOG_RETENTION_DAYS = 90


def add_reporter(
    b: StackBuilder,
    name: str,
    report: dict[str, Any],
    policies: list[Any],
    extra_statements: tuple[Any, ...] = (),
    extra_properties: dict[str, Any] | None = None,
) -> None:
    """Add ``<name>FunctionRole``, ``<name>LogGroup``, ``<name>Function`` and ``<name>``.

    ``report`` is what Clazar receives; ``policies`` are Refs to the role policies the
    stack attached, which also makes the report wait for them (conditional policies cannot
    be listed in DependsOn). A stack whose ``extra_properties`` ask the handler to verify
    roles (``VerifyRoles``) gives its function ``iam:GetRole`` in ``extra_statements``.
    """
    log_group = b.add(
        logs.LogGroup(
            f"{name}LogGroup",
            RetentionInDays=LOG_RETENTION_DAYS,
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            Metadata=scanner_metadata(REPORTER_LOGS),
        )
    )
    assert log_group is not None
    role = b.add(
        iam.Role(
            f"{name}FunctionRole",
            Description="Execution role of the Clazar reporter function",
            Metadata=scanner_metadata(INLINE_POLICY),
            AssumeRolePolicyDocument=p.document(p.trust_lambda_service()),
            Policies=[
                iam.Policy(
                    PolicyName="ReporterPermissions",
                    PolicyDocument=p.document(
                        p.write_own_logs(GetAtt(log_group, "Arn")),
                        p.read_own_stack(),
                        *extra_statements,
                    ),
                )
            ],
        )
    )
    assert role is not None
    function = b.add(
        awslambda.Function(
            f"{name}Function",
            Description="Reports this stack to Clazar once",
            Runtime=RUNTIME,
            Handler="index.handler",
            Code=awslambda.Code(ZipFile=source()),
            Role=GetAtt(role, "Arn"),
            Timeout=FUNCTION_TIMEOUT,
            MemorySize=128,
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(log_group)),
            Metadata=scanner_metadata(*REPORTER_FUNCTION),
        )
    )
    b.add(
        Report(
            name,
            ServiceToken=GetAtt(function, "Arn"),
            ServiceTimeout=SERVICE_TIMEOUT,
            ApiUrl=b.options.api_url,
            SecretKey=b.parameter(SECRET_KEY, NoEcho=True),
            AccountUid=b.value("clazar_account_uid"),
            Template=b.name,
            TemplateVersion=b.options.version,
            Report=report,
            **({"Policies": policies} if policies else {}),
            **(extra_properties or {}),
        )
    )


class Report(CustomResource):  # type: ignore[misc]
    """The custom resource itself (any properties; CloudFormation passes them through)."""

    resource_type = "Custom::ClazarReporter"
