"""Domain errors of gtx's XML-RPC APIs, each with a stable fault code.

Every error a client of ``/RPC2`` can see is one of these; :mod:`gtx.xmlrpc.server` maps them to
XML-RPC faults in one place. Codes never change meaning; ``docs/errors.md`` lists them.

::

    ApiError                    (code)
    ├── ParseError              -32700  the request body is not well-formed, acceptable XML-RPC
    ├── InvalidRequest          -32600  not an XML-RPC method call (or too large)
    ├── MethodNotFound          -32601  no such method
    ├── InvalidParams           -32602  wrong number of arguments
    ├── InternalError           -32603  an unexpected error (logged with its traceback)
    ├── Unauthorized               401  no or wrong credentials
    ├── Forbidden                  403  the caller's role does not allow the method
    ├── InvalidArgument            400  an argument has the wrong type or value (names the field)
    ├── NotFound                   404  an id that does not exist
    └── Conflict                   409  the request conflicts with the current state
"""

from __future__ import annotations

from typing import ClassVar


class ApiError(Exception):
    """An error reported to an XML-RPC client as a fault with a stable code."""

    code: ClassVar[int] = -32603

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ParseError(ApiError):
    code = -32700


class InvalidRequest(ApiError):
    code = -32600


class MethodNotFound(ApiError):
    code = -32601


class InvalidParams(ApiError):
    code = -32602


class InternalError(ApiError):
    code = -32603


class Unauthorized(ApiError):
    code = 401


class Forbidden(ApiError):
    code = 403


class InvalidArgument(ApiError):
    """An argument is wrong; ``field`` names it (``options.timeout``, ``contacts[3].number``)."""

    code = 400

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(ApiError):
    code = 404


class Conflict(ApiError):
    code = 409
