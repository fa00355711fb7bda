"""What boto3 raises, in one place (botocore is imported when asked: startup stays fast)."""

from __future__ import annotations

__all__ = ["aws_errors", "aws_message", "error_code", "no_region"]


def no_region(option: str = "--region") -> str:
    """What a command (or function) that needs a region says when none is configured,
    rather than silently using us-east-1."""
    return f"no AWS region configured: pass {option}, or set AWS_DEFAULT_REGION or a profile's"


def aws_errors() -> tuple[type[Exception], ...]:
    """Everything a boto3 call raises when AWS refuses it, it fails, or the endpoint answers
    garbage: botocore's own errors (connection-level ones and ``NoCredentialsError``
    included), ``ClientError``, and ``ResponseParserError`` (which is no ``BotoCoreError``)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    return (BotoCoreError, ClientError, ResponseParserError)


def error_code(error: Exception) -> str:
    """AWS's error code (``NoSuchKey``, ``404``...), or the exception's type name."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or type(error).__name__)


def aws_message(error: Exception) -> str:
    """What the tools print for one of :func:`aws_errors`: botocore's own text (AWS's code
    and message for a ``ClientError``; the endpoint or cause for the errors without
    ``.response``), on one line (a parser error quotes the body it could not read)."""
    return " ".join(str(error).split()) or error_code(error)
