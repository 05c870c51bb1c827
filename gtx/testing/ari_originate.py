"""Placing calls on the emulated ARI server: ``channels.originate``/``originateWithId``,
``channels.create`` + ``channels.dial``, and snoop channels.

The endpoint is looked up in the :class:`~gtx.testing.pbx.EmulatedAsterisk`'s dial
destinations (``DialDestination``: ANSWER after ``ring_seconds``, BUSY, NOANSWER until the
originate's ``timeout``, CONGESTION, CHANUNAVAIL, or another server); the
reference dialplan's ``Local/wait@gtx-test``, ``Local/busy@gtx-test`` and
``Local/noanswer@gtx-test`` are known too. An endpoint nobody knows is CHANUNAVAIL: for a
``Local/`` channel the pair is created and fails at once, for any other technology the request
fails (500 ``Allocation failed``, as ``ast_dial_prerun`` failing answers).

A ``Local/EXT@CTX`` endpoint makes a pair (``…;1`` is the originated channel, ``…;2`` the
called side, id ``ID;2`` when only ``channelId`` is given) and the events follow the two
originations of ``ari-session.txt`` event for event; any other endpoint makes one channel named
``TECH/PEER-0000000N`` whose events are the ``;1`` half's plus ``ChannelStateChange`` Ringing
while it rings (not from a transcript: no trunk was recorded). With ``app`` the application is
subscribed to the channel(s) from the start (its ``Dial`` events arrive), and the answered
channel enters ``Stasis(app,appArgs)`` (arguments split on commas); with
``context``/``extension`` it runs that dialplan place (see :mod:`gtx.testing.ari_dialplan`).
``variables`` are set on the new channel; ``IAXVAR()``/``PJSIP_HEADER(add,…)`` cross to a
destination that is another server. The called party hangs up after its ``talk_seconds``.

The originate ``timeout`` is resource_channels.c's: a positive number of seconds, ``-1`` for
none (it rings until something ends it), anything else 30 s. When it passes, the dial gives up
as ``ast_dial`` does: the channel is hung up with cause 0 (``Unknown``) and no ``Dial``
NOANSWER event — only ``channels.dial``'s timeout reports NOANSWER (cause 19), as Dial() does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gtx.testing.ari_model import ARIChannel, ARIFault, Handler, Reply, RestCall, event
from gtx.testing.expressions import write_variable
from gtx.testing.pbx import DialDestination

#: The reference dialplan's extensions (``reference-config/extensions.conf``, ``[gtx-test]``).
REFERENCE_DESTINATIONS: Mapping[str, DialDestination] = {
    "Local/wait@gtx-test": DialDestination.answer(after=0.0, talk=30.5),
    "Local/busy@gtx-test": DialDestination.busy(after=0.0),
    "Local/noanswer@gtx-test": DialDestination.no_answer(),
}
_DIAL_APPS = {"BUSY": ("Busy", "5"), "CONGESTION": ("Congestion", "5")}
_FAILURE_CAUSES = {"BUSY": 17, "CONGESTION": 34, "NOANSWER": 19, "CHANUNAVAIL": 0}


def parse_caller_id(text: str) -> tuple[str, str]:
    """``"Bob" <5550000>`` / ``Bob <5550000>`` / ``5550000`` → (name, number)."""
    found = re.fullmatch(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*', text)
    if found:
        return found.group(1).strip(), found.group(2).strip()
    text = text.strip()
    return ("", text) if re.fullmatch(r"[0-9*#+]+", text) else (text, "")


class Dialling:
    """One channel being dialled: rings its destination, then answers or fails."""

    def __init__(self, call: RestCall, outer: ARIChannel, inner: ARIChannel | None,
                 dialstring: str, timeout: float | None, *, silent_timeout: bool = False
                 ) -> None:
        self.server = call.server
        self.calls = call.server.calls
        self.outer, self.inner = outer, inner
        self.dialstring = dialstring
        self.timeout = timeout
        # The originate's ast_dial: its timeout hangs up with cause 0 and no Dial NOANSWER.
        self.silent_timeout = silent_timeout
        self.then: Any = None  # what runs once answered

    def dial(self, destination: DialDestination, caller: ARIChannel | None = None) -> None:
        """Start ringing (``Dial`` with an empty status)."""
        outer = self.outer
        outer.destination = destination
        self.caller = caller
        self._dial_event("")
        if destination.outcome == "CHANUNAVAIL":
            self._fail("CHANUNAVAIL")
            return
        if self.inner is None and (destination.outcome == "NOANSWER"
                                   or destination.ring_seconds > 0):
            self.calls.set_state(outer, "Ringing")
        timeout = self.timeout
        if destination.outcome == "NOANSWER" or (timeout is not None
                                                 and destination.ring_seconds >= timeout):
            if timeout is not None:
                outer.later(timeout, self._timed_out)
        elif destination.outcome == "ANSWER":
            outer.later(destination.ring_seconds, self._answer)
        else:
            outer.later(destination.ring_seconds, lambda: self._fail(destination.outcome))

    def _dial_event(self, status: str) -> None:
        fields: list[tuple[str, Any]] = []
        if self.caller is not None:
            fields.append(("caller", self.caller.to_json()))
        fields += [("peer", self.outer.to_json()), ("forward", ""),
                   ("dialstring", self.dialstring), ("dialstatus", status)]
        message = event("Dial", self.calls.ts(self.outer), *fields)
        # Asterisk's order: type, timestamp, dialstatus, forward, dialstring, peer (caller).
        ordered = {"type": message["type"], "timestamp": message["timestamp"],
                   "dialstatus": status, "forward": "", "dialstring": self.dialstring,
                   "peer": message["peer"]}
        if "caller" in message:
            ordered["caller"] = message["caller"]
        apps = self.calls.listeners(self.outer)
        if self.caller is not None:
            apps |= self.calls.listeners(self.caller)
        self.calls.emit(self.outer, ordered, apps)

    def _answer(self) -> None:
        outer, inner = self.outer, self.inner
        destination = outer.destination
        assert destination is not None
        if inner is not None:
            inner.set_location(inner.media.context, inner.media.extension, 1)
            self.calls.dialplan_app(inner, "Answer", "")
            self.calls.set_state(inner, "Up")
        self.calls.set_state(outer, "Up")
        self._dial_event("ANSWER")
        outer.talks = True
        outer.media.note("media", "called party answers")
        if destination.remote is not None:
            crossing = dict(outer.media.inherited)
            far_end = destination.remote(self.dialstring, crossing, outer.media)
            far_end.addBoth(lambda _: self._far_end_hangs_up())
        elif destination.talk_seconds is not None:
            (inner or outer).later(destination.talk_seconds, self._far_end_hangs_up)
        if inner is not None and destination is REFERENCE_DESTINATIONS["Local/wait@gtx-test"]:
            inner.later(0.5, lambda: self._wait_30(inner))
        if self.then is not None:
            self.then()

    def _wait_30(self, inner: ARIChannel) -> None:
        if not inner.gone:
            inner.set_location(inner.media.context, inner.media.extension, 2)
            self.calls.dialplan_app(inner, "Wait", "30")

    def _far_end_hangs_up(self) -> None:
        side = self.inner or self.outer
        if not side.gone and not side.hanging_up:
            side.media.note("media", "called party hangs up")
            self.calls.hangup(side, 16, source="caller")

    def _timed_out(self) -> None:
        if not self.silent_timeout:
            self._fail("NOANSWER")
            return
        outer, inner = self.outer, self.inner
        outer.hangup_source = "caller"
        outer.media.note("media", "the originate timed out")
        if inner is not None:
            self.calls.request_hangup(inner, 0, False, self.calls.listeners(inner))
        self.calls.end(outer, 0, "caller", self.calls.listeners(outer))
        if inner is not None:
            inner_apps = self.calls.listeners(inner)
            self.calls.request_hangup(inner, 16, True, inner_apps)
            self.calls.end(inner, 16, "caller", inner_apps)

    def _fail(self, status: str) -> None:
        outer, inner = self.outer, self.inner
        cause = _FAILURE_CAUSES.get(status, 0)
        if inner is not None and status in _DIAL_APPS:
            self.calls.dialplan_app(inner, *_DIAL_APPS[status])
            if status == "BUSY":
                self.calls.set_state(inner, "Busy")
        self._dial_event(status)
        outer.hangup_source = inner_source = "caller"
        if inner is None:
            self.calls.end(outer, cause, inner_source, self.calls.listeners(outer))
            return
        inner_apps, outer_apps = self.calls.listeners(inner), self.calls.listeners(outer)
        self.calls.request_hangup(inner, 0 if status != "NOANSWER" else cause, False,
                                  inner_apps)
        self.calls.end(outer, 0 if status != "NOANSWER" else cause, inner_source, outer_apps)
        self.calls.request_hangup(inner, 16, True, inner_apps)
        self.calls.end(inner, cause, inner_source, inner_apps)


def _endpoint(call: RestCall) -> tuple[str, str]:
    endpoint = call.get("endpoint") or ""
    if not endpoint:
        raise ARIFault(400, "Endpoint must be specified")
    tech, _, resource = endpoint.partition("/")
    if not tech or not resource:
        raise ARIFault(400, "Invalid endpoint specified")
    return endpoint, resource


def _destination(call: RestCall, endpoint: str) -> DialDestination:
    known = call.server.asterisk.destinations.get(endpoint)
    if known is None:
        known = REFERENCE_DESTINATIONS.get(endpoint.removesuffix("/n"))
    return known if known is not None else DialDestination.unavailable()


def _variables(call: RestCall) -> dict[str, str]:
    variables = call.get("variables") or {}
    if "variables" in variables and isinstance(variables["variables"], Mapping):
        variables = variables["variables"]
    if not all(isinstance(v, str) for v in variables.values()):
        raise ARIFault(400, "Only string values in the 'variables' object allowed")
    return {str(k): v for k, v in variables.items()}


def make_channels(call: RestCall, endpoint: str, resource: str,
                  destination: DialDestination, app: str | None,
                  caller: tuple[str, str]) -> tuple[ARIChannel, ARIChannel | None]:
    """Request the channel(s) of ``endpoint`` (409 for a taken id, 500 when a non-Local
    endpoint cannot be reached), set the variables and subscribe ``app``."""
    server, calls = call.server, call.server.calls
    variables = _variables(call)
    channel_id = call.get("channelId") or server.asterisk.new_uniqueid()
    other_id = call.get("otherChannelId") or (f"{channel_id};2" if call.get("channelId")
                                              else server.asterisk.new_uniqueid())
    local = endpoint.lower().startswith("local/")
    if calls.exists(channel_id) or (local and calls.exists(other_id)):
        raise ARIFault(409, "Channel with given unique ID already exists")
    if destination.outcome == "CHANUNAVAIL" and not local:
        raise ARIFault(500, "Allocation failed", key="error")
    number = server.asterisk.new_channel_number()
    inner = None
    if local:
        exten, _, context = resource.removesuffix("/n").partition("@")
        where = (context or "default", exten, 1)
        base = f"Local/{resource.removesuffix('/n')}-{number}"
        outer = calls.new_channel(channel_id, f"{base};1", state="Down", location=where,
                                  caller=caller)
        inner = calls.new_channel(other_id, f"{base};2", state="Ring", location=where,
                                  caller=caller)
        outer.local_peer, inner.local_peer = inner, outer
    else:
        tech, _, rest = endpoint.partition("/")
        peer = rest.split("@", 1)[1] if "@" in rest else rest.split("/")[0]
        outer = calls.new_channel(channel_id, f"{tech}/{peer}-{number}", state="Down",
                                  location=("default", "s", 1), caller=caller)
    outer.connected = caller
    outer.app_name, outer.app_data = outer.home_app = ("AppDial2", "(Outgoing Line)")
    for name, value in variables.items():
        write_variable(outer.media, name, value)
    if app:
        outer.subscribers.add(app)
        if inner is not None:
            inner.subscribers.add(app)
    if inner is not None and any(caller):
        calls.emit(inner, event("ChannelCallerId", calls.ts(inner), ("caller_presentation", 0),
                                ("caller_presentation_txt",
                                 "Presentation Allowed, Not Screened"),
                                ("channel", inner.to_json())))
        inner.connected = caller
        calls.emit(inner, event("ChannelConnectedLine", calls.ts(inner),
                                ("channel", inner.to_json())))
    return outer, inner


def _originate(call: RestCall) -> Reply:
    endpoint, resource = _endpoint(call)
    app, extension = call.get("app"), call.get("extension")
    if call.get("originator") and call.get("formats"):
        raise ARIFault(400, "Originator and formats can't both be specified")
    if not app and not extension:
        raise ARIFault(400, "Application or extension must be specified")
    if call.get("originator") and call.get("originator") not in call.server.channels:
        raise ARIFault(400, "Provided originator channel was not found")
    destination = _destination(call, endpoint)
    caller = parse_caller_id(call.get("callerId") or "")
    outer, inner = make_channels(call, endpoint, resource, destination, app, caller)
    asked = int(call.get("timeout", 30) or 0)
    timeout = float(asked) if asked > 0 else (None if asked == -1 else 30.0)
    dialling = Dialling(call, outer, inner, resource.removesuffix("/n"), timeout,
                        silent_timeout=True)
    answer_json = outer.to_json()
    server = call.server
    if app:
        args = [a for a in (call.get("appArgs") or "").split(",") if a]

        def to_stasis() -> None:
            if not server.calls.enter_stasis(outer, app, args):
                server.calls.hangup(outer, 16, source="dialplan")

        dialling.then = to_stasis
    else:
        where = (call.get("context") or "default", extension,
                 int(call.get("priority") or 1))
        dialling.then = lambda: server.dialplan.start_at(outer, where)
    dialling.dial(destination)
    return 200, answer_json


def _create(call: RestCall) -> Reply:
    endpoint, resource = _endpoint(call)
    if call.get("originator") and call.get("formats"):
        raise ARIFault(400, "Originator and formats can't both be specified")
    app = call.get("app")
    destination = _destination(call, endpoint)
    originator = call.server.channels.get(call.get("originator") or "")
    if originator is not None:
        originator.subscribers.add(app)
    outer, _ = make_channels(call, endpoint, resource, destination, app, ("", ""))
    outer.dialstring = endpoint
    answer_json = outer.to_json()
    args = [a for a in (call.get("appArgs") or "").split(",") if a]
    call.server.calls.enter_stasis(outer, app, args)
    return 200, answer_json


def _dial(call: RestCall) -> Reply:
    channel = call.controlled()
    caller = call.server.channels.get(call.get("caller") or "")
    if channel.state != "Down":
        raise ARIFault(409, "Channel is not in the 'Down' state")
    if not channel.dialstring:
        raise ARIFault(409, "Dialing a channel not created by ARI")
    timeout = int(call.get("timeout") or 0)
    resource = channel.dialstring.partition("/")[2]
    dialling = Dialling(call, channel, channel.local_peer, resource.removesuffix("/n"),
                        float(timeout) if timeout > 0 else None)
    dialling.dial(_destination(call, channel.dialstring), caller)
    return 204, None


def _snoop(call: RestCall) -> Reply:
    spy, whisper = call.get("spy") or "none", call.get("whisper") or "none"
    if spy == "none" and whisper == "none":
        raise ARIFault(400, "Direction must be specified for at least spy or whisper")
    target = call.channel(message="Provided channel was not found")
    server = call.server
    snoop_id = call.get("snoopId") or server.asterisk.new_uniqueid()
    if server.calls.exists(snoop_id):
        raise ARIFault(500, "Snoop channel could not be created")
    number = server.asterisk.new_channel_number()
    snoop = server.calls.new_channel(snoop_id, f"Snoop/{target.id}-{number}", state="Up",
                                     location=("default", "s", 1))
    snoop.snoop_target, snoop.snoop_spy = target, spy
    target.snoops.append(snoop)
    snoop.on_destroyed.append(lambda: target.snoops.remove(snoop)
                              if snoop in target.snoops else None)
    answer_json = snoop.to_json()
    args = [a for a in (call.get("appArgs") or "").split(",") if a]
    server.recordings.flush(target)
    if not server.calls.enter_stasis(snoop, call.get("app"), args):
        server.calls.hangup(snoop, 16, source="dialplan")
    return 200, answer_json


HANDLERS: dict[str, Handler] = {
    "channels.originate": _originate,
    "channels.originateWithId": _originate,
    "channels.create": _create,
    "channels.dial": _dial,
    "channels.snoopChannel": _snoop,
    "channels.snoopChannelWithId": _snoop,
}
