"""Errors of the XML-RPC layer.

::

    XMLRPCError
    ├── Fault               the peer answered with an XML-RPC fault (code, message)
    ├── CodecError          a body that is not acceptable XML-RPC (malformed, hostile, wrong types)
    │   └── BodyTooLarge    a body over the configured size limit
    └── TransportError      the call did not get a usable answer
        ├── ConnectFailed   could not connect, or the connection broke before an answer (retryable)
        ├── CallTimeout     no complete answer within the call's timeout
        └── HTTPStatusError the server answered with an HTTP status other than 200
"""

from __future__ import annotations


class XMLRPCError(Exception):
    """Base class of the XML-RPC layer's errors."""


class Fault(XMLRPCError):
    """An XML-RPC fault: the peer's own error, with its code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"fault {code}: {message}")
        self.code = code
        self.message = message


class CodecError(XMLRPCError):
    """A body that is not acceptable XML-RPC; the message says what is wrong and where."""


class BodyTooLarge(CodecError):
    """A body larger than the configured limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"body of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class TransportError(XMLRPCError):
    """The call did not get a usable answer."""


class ConnectFailed(TransportError):
    """Could not connect, or the connection broke before the answer came (safe to retry)."""


class CallTimeout(TransportError):
    """No complete answer within the call's timeout."""

    def __init__(self, url: str, method: str, timeout: float) -> None:
        super().__init__(f"{method} at {url}: no answer within {timeout:g} s")
        self.url = url
        self.method = method
        self.timeout = timeout


class HTTPStatusError(TransportError):
    """The server answered with an HTTP status other than 200."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.status = status
        self.reason = reason
