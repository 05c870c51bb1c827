"""The emulated AMI server against the real Asterisk transcripts.

Each test plays the client side (``>>``) of a transcript against the emulator and compares what
it sends with what Asterisk sent (``<<``):

- **Responses** (every message with ``Response:``): exact, every field in order.
- **Session events** (FullyBooted, the session's own SuccessfulAuth, RequestBadFormat) and the
  **list events** (CoreShowChannel…, QueueParams, QueueMember, QueueSummary, *Complete):
  exact, every field in order.
- **Call events**: per channel, in order, every field: Newchannel, VarSet (of the Originate's
  ``Variable:`` lines and AMDSTATUS/AMDCAUSE), NewCallerid, NewConnectedLine, LocalBridge,
  DialBegin, DialEnd, Newstate, HangupRequest, SoftHangupRequest, Hangup, UserEvent; and every
  OriginateResponse. The interleaving of *different* channels is not compared: each channel
  has its own thread in Asterisk and two runs interleave them differently (the transcripts
  themselves do). Newexten, DeviceStateChange, AGIExec* and the VarSets of the called side's
  own dialplan are not compared: the emulator does not play the called side's dialplan.
- **Normalised** (format checked, value replaced by a placeholder): EventTV, SessionTV,
  SessionID, RemoteAddress's port, Uptime, LastReload, LoginTime/LastCall/LastPause (epoch
  seconds), Duration; Uniqueids (``EPOCH.N``) and channel sequence numbers (``-0000000a;``)
  are numbered by first appearance, so the emulator must keep their format and their identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twisted.internet.task import Clock

from gtx.testing import (
    AMIMessage,
    DialDestination,
    DialplanRun,
    EmulatedAMIServer,
    EmulatedAsterisk,
    QueueBehaviour,
)
from gtx.testing.ami_dialplan import DEFAULT_DIALPLAN
from tests.testing.ami_harness import AMIClient, Normaliser, read_transcript, run

CALL_EVENTS = {
    "Newchannel", "VarSet", "NewCallerid", "NewConnectedLine", "LocalBridge", "DialBegin",
    "DialEnd", "Newstate", "HangupRequest", "SoftHangupRequest", "Hangup", "UserEvent",
}


def replay(
    name: str,
    server: EmulatedAMIServer,
    clock: Clock,
    *,
    gap: float = 40.0,
    skip: Iterable[str] = (),
    between: Callable[[AMIMessage], None] | None = None,
) -> tuple[list[AMIMessage], list[AMIMessage], AMIClient]:
    """Send the transcript's actions (but ``skip``) ``gap`` seconds apart; return what
    Asterisk sent (without replies to skipped actions), what the emulator sent, the client."""
    skipped = {s.lower() for s in skip}
    client = AMIClient(server)
    expected: list[AMIMessage] = []
    dropping = False
    for item in read_transcript(name):
        if item.kind == "client":
            dropping = (item.message.get("Action") or "").lower() in skipped
            if dropping:
                continue
            if between is not None:
                between(item.message)
            client.send(item.message)
            run(clock, gap)
        elif item.kind == "server" and not (
            dropping and item.message.get("Response") and not item.message.get("Event")
        ):
            expected.append(item.message)
    return expected, client.read(), client


def responses(messages: list[AMIMessage]) -> list[list[tuple[str, str]]]:
    norm = Normaliser()
    return [norm.message(m) for m in messages if m.get("Response") and not m.get("Event")]


def _channel_of(message: AMIMessage) -> str:
    for key in ("Channel", "DestChannel", "LocalOneChannel"):
        value = message.get(key)
        if value is not None:
            return value
    return ""


def call_events(
    messages: list[AMIMessage], bases: set[str], variables: set[str]
) -> dict[str, list[list[tuple[str, str]]]]:
    """The compared call events, by normalised channel, of the channels dialled as ``bases``."""
    norm = Normaliser()
    streams: dict[str, list[list[tuple[str, str]]]] = {}
    for message in messages:
        name = message.get("Event") or ""
        if name == "OriginateResponse":
            where = message.get("Channel") or ""
            if where not in bases and where.rsplit("-", 1)[0] not in bases:
                continue
            streams.setdefault(f"response {message.get('ActionID')}", []).append(
                norm.message(message))
            continue
        channel = _channel_of(message)
        if name not in CALL_EVENTS or (channel.rsplit("-", 1)[0] not in bases):
            continue
        if name == "VarSet" and message.get("Variable") not in variables:
            continue
        key = norm.value("Channel", channel) + (" bridge" if name == "LocalBridge" else "")
        streams.setdefault(key, []).append(norm.message(message))
    return streams


def session_events(messages: list[AMIMessage]) -> list[list[tuple[str, str]]]:
    norm = Normaliser()
    wanted = {"FullyBooted", "SuccessfulAuth", "RequestBadFormat"}
    picked = [m for m in messages if m.get("Event") in wanted]
    own = next((m.get("SessionID") for m in picked if m.get("Event") == "SuccessfulAuth"), None)
    return [norm.message(m) for m in picked if m.get("SessionID") in (None, own)]


def test_login_banner_and_events() -> None:
    clock = Clock()
    server = EmulatedAMIServer(EmulatedAsterisk(clock))
    expected, actual, client = replay("ami-originate-into-agi.txt", server, clock, gap=0.25,
                                      skip=["Originate"])
    assert client.banner == "Asterisk Call Manager/13.0.0"
    assert responses(actual) == responses(expected)
    assert session_events(actual) == session_events(expected)


def test_bad_login_closes_the_connection() -> None:
    clock = Clock()
    server = EmulatedAMIServer(EmulatedAsterisk(clock))
    items = read_transcript("ami-bad-login.txt")
    client = AMIClient(server)
    client.send(items[1].message)  # the Login with the wrong secret
    client.read()
    assert client.banner == items[0].text
    assert responses(client.read()) == responses([items[2].message])
    assert client.closed  # the Ping that follows is never answered: EOF
    assert [i.kind for i in items[-2:]] == ["eof", "eof"]


def test_originate_outcomes_busy_nonexistent_noanswer_sync_unknown_malformed() -> None:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations={
        "Local/busy@gtx-test": DialDestination.busy(after=0),
        "Local/nonexistent@gtx-test": DialDestination.unavailable(),
        "Local/noanswer@gtx-test": DialDestination.no_answer(),
        "Local/wait@gtx-test": DialDestination.answer(after=0, talk=30),
    })
    server = EmulatedAMIServer(asterisk)
    expected, actual, _ = replay("ami-originate-outcomes.txt", server, clock)
    assert responses(actual) == responses(expected)
    assert session_events(actual) == session_events(expected)
    bases = {"Local/busy@gtx-test", "Local/nonexistent@gtx-test", "Local/noanswer@gtx-test",
             "Local/wait@gtx-test"}
    want = call_events(expected, bases, set())
    got = call_events(actual, bases, set())
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key
    assert not clock.getDelayedCalls()


def test_originate_into_agi_stream() -> None:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations={
        "Local/agi@gtx-test": DialDestination.answer(after=0, talk=12),
    })
    server = EmulatedAMIServer(asterisk)
    expected, actual, _ = replay("ami-originate-into-agi.txt", server, clock)
    assert responses(actual) == responses(expected)
    want = call_events(expected, {"Local/agi@gtx-test"}, {"GTX_CAMPAIGN"})
    got = call_events(actual, {"Local/agi@gtx-test"}, {"GTX_CAMPAIGN"})
    assert list(got) == list(want)
    one = next(k for k in want if k.endswith(";1"))
    two = next(k for k in want if k.endswith(";2"))
    for key in (one, f"{one} bridge", "response orig-1"):
        assert got[key] == want[key], key
    # The called side ran AGI (its SET CALLERID and HANGUP are its own): compared up to the
    # answer, then its hang-up cause.
    answered = next(i for i, e in enumerate(want[two]) if ("ChannelStateDesc", "Up") in e) + 1
    assert got[two][:answered] == want[two][:answered]
    assert _cause(got[two][-1]) == _cause(want[two][-1]) == ("Hangup", "0", "Unknown")
    assert not clock.getDelayedCalls()


def _cause(fields: list[tuple[str, str]]) -> tuple[str | None, ...]:
    d = dict(fields)
    return d.get("Event"), d.get("Cause"), d.get("Cause-txt")


async def _amd_greeting(run: DialplanRun) -> None:
    """``gtx-test,amd-greeting`` of the reference extensions.conf."""
    run.app("Answer")
    status, cause = await run.amd()
    run.user_event("AMDResult", ("Status", status), ("Cause", cause))
    run.hangup()


def test_amd_outcomes() -> None:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations={
        "Local/greeting@gtx-test": DialDestination.machine(after=0, talk=30),
        "Local/silent@gtx-test": DialDestination("ANSWER", 0, 30, "NOTSURE", "TOOLONG-4900"),
        "Local/human@gtx-test": DialDestination("ANSWER", 0, 30, "NOTSURE", "TOOLONG-4822"),
    })
    dialplan = {**DEFAULT_DIALPLAN, "gtx-test,amd-greeting": _amd_greeting}
    server = EmulatedAMIServer(asterisk, dialplan=dialplan)
    expected, actual, _ = replay("ami-amd-outcomes.txt", server, clock)
    assert responses(actual) == responses(expected)
    bases = {"Local/greeting@gtx-test", "Local/silent@gtx-test", "Local/human@gtx-test"}
    amd = {"AMDSTATUS", "AMDCAUSE"}
    want, got = call_events(expected, bases, amd), call_events(actual, bases, amd)
    # human's own dialplan is Answer, Playback(beep), Wait(6): it hangs up at priority 3, where
    # the emulator (which does not play the called side's dialplan) puts every answered called
    # side at priority 2.
    for stream in want.values():
        for message in stream:
            if ("Channel", "Local/human@gtx-test-<n2>;2") in message:
                message[:] = [("Priority", "2") if f == ("Priority", "3") else f for f in message]
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key
    assert not clock.getDelayedCalls()


def test_originate_to_an_unknown_extension_is_refused_at_once() -> None:
    clock = Clock()
    server = EmulatedAMIServer(EmulatedAsterisk(clock))
    expected, actual, _ = replay("ami-originate-unknown-extension.txt", server, clock, gap=1)
    assert responses(actual) == responses(expected)
    assert [m.get("Message") for m in actual if m.get("Response") == "Error"] == [
        "Extension does not exist."] * 3
    assert not [m for m in actual if m.get("Event") in CALL_EVENTS | {"OriginateResponse"}]


def test_core_show_channels_hangup_getvar_logoff() -> None:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations={
        "Local/wait@gtx-test": DialDestination.answer(after=0, talk=30),
    })
    server = EmulatedAMIServer(asterisk)
    skip = ["MixMonitor", "MixMonitorMute", "StopMixMonitor"]
    expected, actual, client = replay("ami-mixmonitor.txt", server, clock, gap=1, skip=skip)
    assert responses(actual) == responses(expected)
    lists = {"CoreShowChannel", "CoreShowChannelsComplete"}
    want = [Normaliser().message(m) for m in expected if m.get("Event") in lists]
    got = [Normaliser().message(m) for m in actual if m.get("Event") in lists]
    # The called side (…;2) runs its own dialplan (Wait(30) at priority 2), not emulated.
    own = {"Application", "ApplicationData"}
    assert [[f for f in e if f[0] not in own] for e in got] == [
        [f for f in e if f[0] not in own] for e in want]
    assert got[1] == want[1]  # the originated channel, every field
    bases = {"Local/wait@gtx-test"}
    assert call_events(actual, bases, set()) == call_events(expected, bases, set())
    assert client.closed


def test_queue_status_summary_add_pause_remove() -> None:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, queues={"sales": QueueBehaviour()})
    server = EmulatedAMIServer(asterisk)

    def between(action: AMIMessage) -> None:
        if action.get("Action") == "QueuePause":
            # The skipped Originate's call was taken by agent1 and talked 4 s.
            queue = server.queue("sales")
            member = queue.members["Local/agent1@gtx-agents"]
            queue.call_completed(member, 4, int(asterisk.epoch()))

    expected, actual, _ = replay("ami-queue-members.txt", server, clock, gap=1,
                                 skip=["Originate"], between=between)
    assert responses(actual) == responses(expected)
    lists = {"QueueParams", "QueueMember", "QueueStatusComplete", "QueueSummary",
             "QueueSummaryComplete", "QueueMemberAdded", "QueueMemberPause",
             "QueueMemberRemoved"}
    norm_want, norm_got = Normaliser(), Normaliser()
    want = [norm_want.message(m) for m in expected if m.get("Event") in lists]
    got = [norm_got.message(m) for m in actual if m.get("Event") in lists]
    assert got == want
    # Queue:sales itself rings during the skipped call; the member devices are compared.
    devices = [m for m in expected if m.get("Event") == "DeviceStateChange"
               and (m.get("Device") or "").startswith(("Queue:sales_pause_", "Queue:sales_avail"))]
    got_devices = [m for m in actual if m.get("Event") == "DeviceStateChange"]
    assert [d.fields for d in got_devices] == [d.fields for d in devices]
