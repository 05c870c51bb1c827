"""Why an IVR session ends in error.

Every error carries a stable ``kind``; the engine writes ``GTX_ERROR = "<kind>: <message>"`` on
the channel and counts ``gtx_errors{kind}``. ``docs/ivr-api.md`` lists the kinds.

::

    SessionError           (kind)
    ├── WebServiceTimeout      webservice_timeout      no answer within the app's timeout
    ├── WebServiceUnreachable  webservice_unreachable  cannot connect (after the retries)
    ├── WebServiceFault        webservice_fault        an XML-RPC fault, or an HTTP error status
    ├── InvalidResponse        invalid_response        an answer that breaks the IVR API contract
    ├── TooManySteps           too_many_steps          more steps than the app allows
    ├── UnknownApp             unknown_app             the AGI request names no configured app
    └── InternalError          internal                a bug in gtx (logged with its traceback)
"""

from __future__ import annotations

from typing import ClassVar


class SessionError(Exception):
    """An error that ends an IVR session with ``GTX_STATUS=ERROR``."""

    kind: ClassVar[str] = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def channel_value(self) -> str:
        """The value written to ``GTX_ERROR`` (one line: the dialplan reads it)."""
        return " ".join(f"{self.kind}: {self.message}".split())


class WebServiceTimeout(SessionError):
    kind = "webservice_timeout"


class WebServiceUnreachable(SessionError):
    kind = "webservice_unreachable"


class WebServiceFault(SessionError):
    kind = "webservice_fault"


class InvalidResponse(SessionError):
    """The web service answered something the IVR API does not allow.

    The message names the step, where in the response the problem is and what was expected:
    ``step 3: actions[1].max_digits: expected an int from 1 to 64, got 'abc'``.
    """

    kind = "invalid_response"


class TooManySteps(SessionError):
    kind = "too_many_steps"


class UnknownApp(SessionError):
    kind = "unknown_app"


class InternalError(SessionError):
    kind = "internal"
