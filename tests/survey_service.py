"""The customer's side of the end-to-end tests: an in-process XML-RPC service holding the
``survey`` IVR app's methods and the ``crm.event`` call-back, recording what it receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.endpoints import serverFromString
from twisted.web.server import Site

from gtx.xmlrpc.server import CallContext, XMLRPCResource

#: A web service method of the survey app: the request in, the answer out.
Step = Callable[[dict[str, Any]], object]


@dataclass
class SurveyService:
    """``steps`` adds or replaces methods of the survey app (by default ``survey.start``
    plays hello-world and ends)."""

    ivr_requests: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    port: Any = None

    async def listen(self, reactor: Any, steps: dict[str, Step] | None = None) -> None:
        service = XMLRPCResource()
        answers: dict[str, Step] = {
            "survey.start": lambda request: {"actions": [{"action": "play",
                                                          "files": ["hello-world"]}]},
            **(steps or {}),
        }

        def ivr_step(ctx: CallContext, request: dict[str, Any]) -> object:
            self.ivr_requests.append(request)
            return answers[ctx.method](request)

        def on_event(ctx: CallContext, event: dict[str, Any]) -> object:
            self.events.append(event)
            return True

        for method in answers:
            service.register(method, ivr_step)
        service.register("crm.event", on_event)
        self.port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
            Site(service))
        self.url = f"http://127.0.0.1:{self.port.getHost().port}/RPC2"

    async def close(self) -> None:
        await self.port.stopListening()
