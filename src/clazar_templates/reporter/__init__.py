"""The stack reporter: the Lambda source the templates inline, and the vendor-side helpers.

``handler.py`` is the function CloudFormation runs (inlined verbatim as ``index.py``, see
:func:`source`); this module is what the other side of the protocol needs: the same
:func:`sign` and a :func:`verify_signature` for Clazar's API. The protocol is described in
``docs/reporter-protocol.md``.
"""

import hmac
import importlib
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .handler import (
        IDEMPOTENCY_HEADER,
        SCHEMA_VERSION,
        SIGNATURE_HEADER,
        TIMESTAMP_HEADER,
        sign,
    )

# Importing handler.py loads urllib, http.client, ssl and email (about 25 ms): only the
# vendor side needs it, not a template build, which only reads its text (see source()).
_FROM_HANDLER = {
    "IDEMPOTENCY_HEADER",
    "SCHEMA_VERSION",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "sign",
}

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SCHEMA_VERSION",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "sign",
    "source",
    "verify_signature",
]

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v1=[0-9a-f]{64}")


def __getattr__(name: str) -> Any:
    if name in _FROM_HANDLER:
        return getattr(importlib.import_module(".handler", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def source() -> str:
    """The exact text of ``handler.py``, for the template's ``Code.ZipFile``."""
    return Path(__file__).with_name("handler.py").read_bytes().decode("utf-8")


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age: int = 300,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` (the ``X-Clazar-Signature`` header) signs ``body`` at
    ``timestamp`` (the ``X-Clazar-Timestamp`` header) with ``secret``.

    ``body`` must be the request's raw bytes, not a re-serialization. Rejects a timestamp more
    than ``max_age`` seconds away from ``now`` (default: the current time) in either
    direction, and any signature that is not ``v1=<64 hex digits>``. Never raises for bad
    input: returns False. Compares in constant time.
    """
    if not (
        isinstance(secret, str)
        and secret
        and isinstance(timestamp, str)
        and isinstance(body, bytes | bytearray)
        and isinstance(signature, str)
        and _TIMESTAMP.fullmatch(timestamp)
        and _SIGNATURE.fullmatch(signature.strip().lower())
    ):
        return False
    try:
        current = time.time() if now is None else float(now)
        if abs(current - int(timestamp)) > max_age:
            return False
    except (TypeError, ValueError, OverflowError):
        return False
    from .handler import sign

    expected = sign(secret, timestamp, bytes(body))
    return hmac.compare_digest(expected, signature.strip().lower())
