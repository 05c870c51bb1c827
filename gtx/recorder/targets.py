"""What a recording target designates: a live channel on one configured Asterisk server.

- ``{call_id}``: a dialer call (from the store) — its server, and its channel name once known,
  else its Uniqueid (the call id is the ChannelId gtx gave Asterisk);
- ``{session}``: an IVR session running on this node (:class:`gtx.ivr.app.SessionChannels`);
- ``{channel}`` or ``{uniqueid}``, with ``asterisk`` or not: as given; without ``asterisk``,
  the configured server that has that channel up.

The channel must be up on a connected server. Faults: an unknown call or session or channel
is ``NotFound``; a call that has ended or is not placed yet, a server that is not connected,
is ``Conflict``; a target that names none or several things, or an unknown server, is
``InvalidArgument``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gtx.dialer.model import CallState
from gtx.errors import Conflict, InvalidArgument, NotFound
from gtx.ivr.app import SessionChannels
from gtx.recorder.model import RecordingTarget
from gtx.recording import RecordingControl, RecordingError
from gtx.store.api import NotFoundError, Store


@dataclass(frozen=True)
class ResolvedTarget:
    """A target as a channel on a server, with what the recording is linked to."""

    asterisk: str
    channel: str  # a channel name or a Uniqueid (AMI takes either)
    call_id: str | None = None
    session: str | None = None
    campaign_id: int | None = None
    uniqueid: str | None = None


def control_of(controls: Mapping[str, RecordingControl], asterisk: str | None,
               what: str) -> RecordingControl:
    """The connected server ``asterisk`` (``what`` names the recording or target in faults)."""
    control = None if asterisk is None else controls.get(asterisk)
    if control is None:
        raise Conflict(f"{what}: Asterisk server {asterisk!r} is not configured on this node")
    if not control.connected:
        raise Conflict(f"{what}: the link to Asterisk server {asterisk} is down; try again")
    return control


async def channel_up(control: RecordingControl, channel: str, what: str) -> bool:
    try:
        return await control.channel_exists(channel)
    except RecordingError as e:
        raise Conflict(f"{what}: cannot ask Asterisk server {control.name} ({e})") from e


async def resolve(target: RecordingTarget, *, store: Store,
                  controls: Mapping[str, RecordingControl],
                  sessions: SessionChannels | None) -> ResolvedTarget:
    """The live channel ``target`` designates (see the module docstring)."""
    given = [k for k in ("call_id", "session", "channel", "uniqueid") if getattr(target, k)]
    if len(given) != 1:
        raise InvalidArgument("target", "give exactly one of call_id, session, channel, "
                              f"uniqueid (got {', '.join(given) or 'none'})")
    if target.call_id:
        resolved = await _call(target.call_id, store)
    elif target.session:
        resolved = _session(target.session, sessions)
    else:
        return await _channel(target, controls)
    what = f"call {resolved.call_id}" if resolved.call_id else f"session {resolved.session}"
    control = control_of(controls, resolved.asterisk, what)
    if not await channel_up(control, resolved.channel, what):
        raise Conflict(f"{what}: its channel {resolved.channel} has hung up")
    return resolved


async def _call(call_id: str, store: Store) -> ResolvedTarget:
    try:
        call = await store.get_call(call_id)
    except NotFoundError:
        raise NotFound(f"no call {call_id}") from None
    if call.state is CallState.COMPLETED:
        outcome = "" if call.outcome is None else f" ({call.outcome.value})"
        raise Conflict(f"call {call_id} has ended{outcome}")
    if call.state is CallState.QUEUED or call.asterisk is None:
        raise Conflict(f"call {call_id} is not placed yet: nothing to record")
    return ResolvedTarget(asterisk=call.asterisk, channel=call.channel or call.call_id,
                          call_id=call_id, campaign_id=call.campaign_id,
                          uniqueid=call.call_id)


def _session(session: str, sessions: SessionChannels | None) -> ResolvedTarget:
    found = None if sessions is None else sessions.channel_of(session)
    if found is None:
        raise NotFound(f"no IVR session {session} on this node")
    return ResolvedTarget(asterisk=found.asterisk, channel=found.channel, session=session,
                          uniqueid=found.uniqueid)


async def _channel(target: RecordingTarget,
                   controls: Mapping[str, RecordingControl]) -> ResolvedTarget:
    channel = target.channel or target.uniqueid or ""
    kind = "channel" if target.channel else "uniqueid"
    what = f"{kind} {channel}"
    if target.asterisk is not None:
        if target.asterisk not in controls:
            known = ", ".join(sorted(controls)) or "none"
            raise InvalidArgument("target.asterisk", f"no Asterisk server {target.asterisk!r}"
                                  f" (configured: {known})")
        servers = [(target.asterisk, control_of(controls, target.asterisk, what))]
        where = target.asterisk
    else:
        servers = [(name, c) for name, c in sorted(controls.items()) if c.connected]
        if not servers:
            raise Conflict(f"{what}: no Asterisk server is connected; try again")
        where = "any connected Asterisk server"
    for name, control in servers:
        if await channel_up(control, channel, what):
            return ResolvedTarget(asterisk=name, channel=channel, uniqueid=target.uniqueid)
    raise NotFound(f"{what} does not exist on {where}")
