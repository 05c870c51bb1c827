"""The IVR's ``callback`` action, placed as scheduled dialer calls.

:class:`DialerCallbacks` is what the composition root gives the IVR engine as its call-back
scheduler (the engine's protocol is :class:`gtx.ivr.app.CallbackScheduler`; the IVR does not
import the dialer, and this module does not import the IVR). Each call back is a single call of
:meth:`gtx.dialer.service.DialerService.call` with ``not_before`` set, the ``[dialer] channel``
dial string, and ``on_answer`` an IVR app: answered, it enters that app with ``GTX_STATUS=READY``
and the given vars as ``GTX_VARS``, as every dialer call into an app does.
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.internet.defer import Deferred

from gtx.config import DialerSettings
from gtx.dialer.model import CallRequest, OnAnswer
from gtx.dialer.service import DialerService
from gtx.errors import Conflict


class DialerCallbacks:
    """Schedules call backs on ``dialer`` (see the module docstring)."""

    def __init__(self, dialer: DialerService, settings: DialerSettings) -> None:
        self.dialer = dialer
        self.settings = settings

    def schedule(
        self,
        number: str,
        at: float,
        app: str | tuple[str, str],
        vars: Mapping[str, object],
        caller_id: str | None,
    ) -> Deferred[str]:
        """Place a call to ``number`` at ``at`` into ``app`` (a configured app's name, or the
        ``(url, method)`` of a web service); fire with its call_id. Fails with a
        :class:`gtx.errors.ApiError` (its message says why) when the dialer refuses it."""
        return Deferred.fromCoroutine(self._schedule(number, at, app, vars, caller_id))

    async def _schedule(self, number: str, at: float, app: str | tuple[str, str],
                        vars: Mapping[str, object], caller_id: str | None) -> str:
        if self.settings.channel is None:
            raise Conflict("no [dialer] channel in gtx.ini: the dialer does not know how to "
                           "dial a number (e.g. channel = PJSIP/{number}@trunk)")
        target = OnAnswer(app=app) if isinstance(app, str) else OnAnswer(url=app[0],
                                                                         method=app[1])
        request = CallRequest(destination=number, channel=self.settings.channel,
                              caller_id=caller_id, vars=dict(vars), on_answer=target,
                              not_before=at)
        return await self.dialer.call(request)
