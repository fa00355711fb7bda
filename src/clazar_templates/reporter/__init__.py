"""The stack reporter: the Lambda source the templates inline, and the vendor-side helpers.

``handler.py`` is the function CloudFormation runs, inlined byte for byte as ``index.py``
(``shipping.py``, :func:`source`); this module is what the other
side of the protocol needs: the same :func:`sign` and a :func:`verify_signature` for
Clazar's API. The protocol is described in ``docs/reporter-protocol.md``.
"""

import importlib
import math
import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .handler import (
        IDEMPOTENCY_HEADER,
        SCHEMA_VERSION,
        SIGNATURE_HEADER,
        TIMESTAMP_HEADER,
        sign,
    )
    from .shipping import HANDLER, source

# Importing handler.py loads urllib, http.client, ssl and email (about 25 ms), and hmac loads
# hashlib and OpenSSL (about 4 ms): only the vendor side needs them, not a template build,
# which only reads handler.py's text (see source()).
_FROM_HANDLER = {
    "IDEMPOTENCY_HEADER",
    "SCHEMA_VERSION",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "sign",
}
# How handler.py ships: a template build needs it, the vendor side does not.
_FROM_SHIPPING = {"HANDLER", "source"}

__all__ = [
    "HANDLER",
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
    if name in _FROM_SHIPPING:
        return getattr(importlib.import_module(".shipping", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age: float = 300,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` (the ``X-Clazar-Signature`` header) signs ``body`` at
    ``timestamp`` (the ``X-Clazar-Timestamp`` header) with ``secret``.

    ``body`` must be the request's raw bytes, not a re-serialization. Rejects a timestamp more
    than ``max_age`` seconds away from ``now`` (default: the current time) in either
    direction, a ``max_age`` or ``now`` that is not a finite number, and any signature that
    is not exactly ``v1=`` and 64 lowercase hex digits (no other case, no whitespace), as
    :func:`sign` writes it. Never raises for bad input (a secret that is no valid UTF-8, such
    as a lone surrogate, included): returns False. Compares in constant time.
    """
    try:
        current = time.time() if now is None else _finite(now)
        if not (
            isinstance(secret, str)
            and secret
            and isinstance(timestamp, str)
            and isinstance(body, bytes | bytearray)
            and isinstance(signature, str)
            and _TIMESTAMP.fullmatch(timestamp)
            and _SIGNATURE.fullmatch(signature)
            and abs(current - int(timestamp)) <= _finite(max_age)
        ):
            return False
        import hmac

        from .handler import sign

        return hmac.compare_digest(sign(secret, timestamp, bytes(body)), signature)
    except Exception:
        return False


def _finite(number: object) -> float:
    """``number`` as a float; ValueError unless it is a finite int or float (not a bool)."""
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ValueError("not a number")
    value = float(number)
    if not math.isfinite(value):
        raise ValueError("not finite")
    return value
