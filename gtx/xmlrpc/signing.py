"""HMAC request signatures: how a web service knows a request really comes from gtx.

When an app has a ``secret``, every request carries two headers::

    X-Gtx-Timestamp: 1795000000
    X-Gtx-Signature: v1=<hex HMAC-SHA256(secret, "1795000000" + "." + body)>

The timestamp is the Unix time in whole seconds when the request was made; the signed message is
the timestamp, a dot, and the exact request body bytes. ``docs/signing.md`` shows how to verify
them in other languages.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

TIMESTAMP_HEADER = "X-Gtx-Timestamp"
SIGNATURE_HEADER = "X-Gtx-Signature"
_VERSION = "v1="


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``X-Gtx-Signature`` value (``v1=<hex>``) for ``body`` sent at ``timestamp``."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return _VERSION + digest


def verify(
    secret: str,
    timestamp_header: str,
    signature_header: str,
    body: bytes,
    *,
    now: float,
    tolerance: float = 300,
) -> bool:
    """Tell whether a request's headers prove it was signed with ``secret`` recently.

    False when the timestamp is not an integer, is more than ``tolerance`` seconds away from
    ``now`` (a replayed or stale request), or the signature does not match (compared in constant
    time, so the comparison leaks nothing about the expected value).
    """
    text = timestamp_header.strip()
    if not text.isascii() or not text.isdigit():
        return False
    timestamp = int(text)
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("ascii"), signature_header.strip().encode("utf-8"))
