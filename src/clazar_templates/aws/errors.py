"""What boto3 raises, in one place (botocore is imported when asked: startup stays fast)."""

from __future__ import annotations

__all__ = ["aws_errors", "error_code"]


def aws_errors() -> tuple[type[Exception], ...]:
    """Everything a boto3 call raises when AWS refuses it, it fails, or the endpoint answers
    garbage: botocore's own errors, ``ClientError``, and ``ResponseParserError`` (which is no
    ``BotoCoreError``)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    return (BotoCoreError, ClientError, ResponseParserError)


def error_code(error: Exception) -> str:
    """AWS's error code (``NoSuchKey``, ``404``...), or the exception's type name."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or type(error).__name__)
