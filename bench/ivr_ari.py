"""The ARI side of the IVR benchmark: an emulated ARI server in the benchmark process, calls
that enter ``Stasis(gtx,bench)`` on it, and the step timings read off its REST requests and
events.

The server is :class:`gtx.testing.EmulatedARIServer` over an emulated Asterisk whose media run
on the reactor scaled down (:data:`TIME_SCALE`: a one-second prompt plays in a millisecond), so
what is measured is gtx and its link, not audio — as the FastAGI side's zero-duration mode.
:class:`BenchARIServer` stamps every REST request and every event with
``time.perf_counter()``, by channel; :func:`ari_step_timings` finds the step boundaries of the
benchmark IVR in them, the way :func:`ivr_calls.step_timings` does on the AGI wire:

- first: from the ``StasisStart`` event to step 1's first request (the welcome prompt's play);
- step 1 → 2: from the ``ChannelDtmfReceived`` event that ends the read to step 2's ``play``
  of ``number:41`` (what is in between: stopping the prompt, writing the session state, the
  web-service round trip);
- step 2 → 3: from the ``PlaybackFinished`` of that number to step 3's hang-up
  (``DELETE /channels/{id}``).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ivr_calls import DIGIT_PROMPT, EXPECTED_NUMBER, WELCOME_PROMPT, StepTimings
from twisted.internet.defer import Deferred

from gtx.testing import (
    ARIRequest,
    CallSpec,
    EmulatedARIServer,
    EmulatedAsterisk,
    ScriptedCaller,
    SoundCatalogue,
)

#: Reactor seconds per call second of the emulated media.
TIME_SCALE = 0.001
ARI_USER, ARI_PASSWORD = "gtx", "gtxsecret"
#: The caller presses 1 as each prompt starts playing: the welcome prompt does not listen (the
#: digit is dropped), the digit prompt of the read does — whichever play carries it.
CALLER = "press 1 during PLAY; press 1 during PLAY"
_SAY_MEDIA = f"number:{EXPECTED_NUMBER}"


class _StampedRequests(list[ARIRequest]):
    """The server's request log, stamping each request by channel as it is logged (right
    after the operation ran, before its answer is written)."""

    def __init__(self, server: BenchARIServer) -> None:
        super().__init__()
        self._server = server

    def append(self, request: ARIRequest) -> None:
        super().append(request)
        if request.operation is None or request.operation == "events.eventWebsocket":
            return
        self._server.rest_requests += 1
        parts = request.path.split("/")
        if len(parts) > 2 and parts[1] == "channels":
            detail = ""
            if request.operation in ("channels.play", "channels.playWithId"):
                detail = str(request.params.get("media", ""))
            self._server.stamp(parts[2], request.operation, detail)


class BenchARIServer(EmulatedARIServer):
    """The emulated ARI server, stamping REST requests and events per channel."""

    def __init__(self, asterisk: EmulatedAsterisk) -> None:
        super().__init__(asterisk, user=ARI_USER, password=ARI_PASSWORD)
        #: channel id → [(perf_counter, what, detail)].
        self.stamps: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
        #: REST requests answered (the listings and the WebSocket upgrade aside).
        self.rest_requests = 0
        self.requests = _StampedRequests(self)

    def stamp(self, channel_id: str, what: str, detail: str = "") -> None:
        self.stamps[channel_id].append((time.perf_counter(), what, detail))

    def send_event(self, message: dict[str, Any], apps: Any) -> int:
        channel = message.get("channel") or {}
        if isinstance(channel, dict) and channel.get("id"):
            kind = str(message.get("type"))
            detail = ""
            if kind == "PlaybackFinished":
                detail = str((message.get("playback") or {}).get("media_uri", ""))
            elif kind == "ChannelDtmfReceived":
                detail = str(message.get("digit", ""))
            self.stamp(channel["id"], kind, detail)
        elif message.get("type", "").startswith("Playback"):
            playback = message.get("playback") or {}
            target = str(playback.get("target_uri", ""))
            if target.startswith("channel:"):
                self.stamp(target[len("channel:"):], str(message["type"]),
                           str(playback.get("media_uri", "")))
        return super().send_event(message, apps)


def emulated_ari(reactor: Any) -> BenchARIServer:
    """The server every gtx-ari call goes through (start it with ``await server.start()``)."""
    sounds = SoundCatalogue()
    sounds.add(WELCOME_PROMPT, seconds=1.0)
    sounds.add(DIGIT_PROMPT, seconds=1.0)
    asterisk = EmulatedAsterisk(reactor, time_scale=TIME_SCALE, sounds=sounds)
    return BenchARIServer(asterisk)


@dataclass
class ARICall:
    """One call into Stasis: its channel id, and how it ended."""

    index: int
    channel_id: str
    error: str | None = None
    played: list[str] = field(default_factory=list)
    hangup_source: str = ""


_ids = itertools.count(1)


def call_over_ari(reactor: Any, server: BenchARIServer, index: int,
                  timeout: float) -> Deferred[ARICall]:
    """One call entering ``Stasis(gtx,bench)``; fires once its channel is gone (or after
    ``timeout`` seconds, as an error)."""
    number = next(_ids)
    channel_id = f"1795304604.{number}"
    call = ARICall(index, channel_id)
    spec = CallSpec(channel=f"PJSIP/bench-{number:08x}", uniqueid=channel_id,
                    caller_number="5551234", caller_name="Bench", dnid="100",
                    context="from-bench", extension="100", priority=2)
    d = server.stasis_call(spec, ScriptedCaller.parse(CALLER), app="gtx", args=("bench",))
    done: Deferred[ARICall] = Deferred()

    def ended(record: Any) -> None:
        if timer.active():
            timer.cancel()
        call.played, call.hangup_source = list(record.played), record.hangup_source
        # The record fires while the server still answers the request that ended the call
        # (the hang-up): let it be logged first.
        reactor.callLater(0, finish)

    def finish() -> None:
        if not done.called:
            done.callback(call)

    def failed(failure: Any) -> None:
        if timer.active():
            timer.cancel()
        call.error = f"the call failed: {failure.getErrorMessage()}"
        if not done.called:
            done.callback(call)

    def give_up() -> None:
        call.error = f"timed out after {timeout:g} s"
        if channel_id in server.channels:
            server.hangup(channel_id)
        if not done.called:
            done.callback(call)

    timer = reactor.callLater(timeout, give_up)
    d.addCallbacks(ended, failed)
    return done


def ari_step_timings(server: BenchARIServer, call: ARICall) -> StepTimings:
    """The step timings of one call (see the module docstring); ValueError when it did not
    run the three steps of the benchmark IVR correctly."""
    if call.error:
        raise ValueError(call.error)
    stamps = server.stamps.get(call.channel_id, [])

    def first(kind: str, detail: str | None = None, after: float = 0.0) -> float:
        for at, what, more in stamps:
            if what == kind and at >= after and (detail is None or more == detail):
                return at
        raise ValueError(f"no {kind} {detail or ''} after the previous step: "
                         f"{[(w, d) for _, w, d in stamps]}")

    entered = first("StasisStart")
    start1 = next((at for at, what, media in stamps if what.startswith("channels.play")
                   and WELCOME_PROMPT in media), None)
    if start1 is None:
        raise ValueError(f"step 1 never played {WELCOME_PROMPT}")
    digit = first("ChannelDtmfReceived", "1", start1)
    start2 = next((at for at, what, media in stamps if what.startswith("channels.play")
                   and at >= digit and _SAY_MEDIA in media), None)
    if start2 is None:
        raise ValueError(f"step 2 never said {EXPECTED_NUMBER}")
    said = first("PlaybackFinished", _SAY_MEDIA, start2)
    start3 = first("channels.hangup", None, said)
    if call.hangup_source != "ari":
        raise ValueError(f"the call was not hung up by gtx ({call.hangup_source or 'no'} "
                         f"hang-up)")
    commands = sum(1 for _, what, _ in stamps if what.startswith("channels."))
    return StepTimings(first=start1 - entered, between=(start2 - digit, start3 - said),
                       commands=commands)
