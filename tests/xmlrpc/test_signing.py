"""The request signature: known vector, verification, staleness, tampering."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from pathlib import Path

import pytest

from gtx.xmlrpc.signing import sign, verify

BODY = b'<?xml version="1.0"?>\n<methodCall><methodName>menu.step</methodName></methodCall>'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", b"1795000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1795000000, BODY) == "v1=" + expected


KNOWN = "v1=985f62ed652a927be59c70049052a95b3f4cff8ad6d558048b3a92ae050e3c94"
SIGNING_DOC = Path(__file__).resolve().parents[2] / "docs" / "signing.md"


def test_known_vector_quoted_in_the_docs() -> None:
    assert sign("s3cret", 1795000000, b"hello") == KNOWN
    assert KNOWN in SIGNING_DOC.read_text()


def test_the_python_snippet_in_the_docs_verifies_real_signatures() -> None:
    snippet = re.search(r"```python\n(.*?)```", SIGNING_DOC.read_text(), re.DOTALL)
    assert snippet is not None
    namespace: dict[str, object] = {}
    exec(snippet.group(1), namespace)
    check = namespace["gtx_request_is_authentic"]
    now = int(time.time())
    headers = {"X-Gtx-Timestamp": str(now), "X-Gtx-Signature": sign("s3cret", now, BODY)}
    assert check("s3cret", headers, BODY)  # type: ignore[operator]
    assert not check("s3cret", headers, BODY + b"x")  # type: ignore[operator]
    stale = {"X-Gtx-Timestamp": "1000", "X-Gtx-Signature": sign("s3cret", 1000, BODY)}
    assert not check("s3cret", stale, BODY)  # type: ignore[operator]


def test_verify_accepts_a_fresh_valid_signature() -> None:
    signature = sign("s3cret", 1795000000, BODY)
    assert verify("s3cret", "1795000000", signature, BODY, now=1795000000.5)
    assert verify("s3cret", "1795000000", signature, BODY, now=1795000300)
    assert verify("s3cret", "1795000000", signature, BODY, now=1794999700)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        ("wrong", "1795000000", BODY, 1795000000),  # another key
        ("s3cret", "1795000001", BODY, 1795000000),  # timestamp changed
        ("s3cret", "1795000000", BODY + b" ", 1795000000),  # body changed
        ("s3cret", "1795000000", BODY, 1795000301),  # stale
        ("s3cret", "1795000000", BODY, 1794999699),  # from the future
        ("s3cret", "1795000000.0", BODY, 1795000000),  # not an integer
        ("s3cret", "-1", BODY, -1),
        ("s3cret", "", BODY, 0),
        ("s3cret", "١٢", BODY, 12),  # non-ASCII digits
    ],
)
def test_verify_rejects(secret: str, timestamp: str, body: bytes, now: float) -> None:
    signature = sign("s3cret", 1795000000, BODY)
    assert not verify(secret, timestamp, signature, body, now=now)


def test_verify_rejects_a_malformed_signature() -> None:
    assert not verify("s3cret", "1795000000", "v2=abc", BODY, now=1795000000)
    assert not verify("s3cret", "1795000000", "", BODY, now=1795000000)
    assert not verify("s3cret", "1795000000", "v1=é", BODY, now=1795000000)
