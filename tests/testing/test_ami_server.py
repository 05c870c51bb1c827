"""The emulated AMI server: scripted destinations, actions, test controls."""

from __future__ import annotations

from twisted.internet.task import Clock

from gtx.testing import (
    AMIMessage,
    DialDestination,
    DialplanRun,
    EmulatedAMIServer,
    EmulatedAsterisk,
)
from tests.testing.ami_harness import AMIClient, events, run

TRUNK = "PJSIP/{}@trunk"


def setup(**destinations: DialDestination) -> tuple[Clock, EmulatedAMIServer, AMIClient]:
    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations={
        TRUNK.format(number): dest for number, dest in destinations.items()
    })
    server = EmulatedAMIServer(asterisk, dialplan={"gtx-test,wait": _wait_forever})
    client = AMIClient(server)
    client.login()
    return clock, server, client


async def _wait_forever(call: DialplanRun) -> None:
    await call.until_hangup()


def originate(client: AMIClient, number: str, *extra: tuple[str, str], call_id: str = "c1",
              timeout: int = 30000) -> list[AMIMessage]:
    return client.action(
        ("Action", "Originate"), ("Channel", TRUNK.format(number)), ("Context", "gtx-test"),
        ("Exten", "wait"), ("Priority", "1"), ("Timeout", str(timeout)), ("Async", "true"),
        ("ActionID", f"a-{call_id}"), ("ChannelId", call_id), *extra)


def outcome(client: AMIClient, call_id: str = "c1") -> AMIMessage:
    (found,) = [e for e in events(client.read(), "OriginateResponse")
                if e.get("ActionID") == f"a-{call_id}"]
    return found


def test_answer_after_n_seconds_then_talk() -> None:
    clock, server, client = setup(**{"5551234": DialDestination.answer(after=3, talk=20)})
    reply = originate(client, "5551234", ("CallerID", '"Shop" <5550000>'),
                      ("Variable", "GTX_CALL_ID=c1,GTX_X=1"))
    assert reply[0].fields == [("Response", "Success"), ("ActionID", "a-c1"),
                               ("Message", "Originate successfully queued")]
    (new,) = events(reply, "Newchannel")
    assert new.get("Channel") == "PJSIP/trunk-00000000"
    assert new.get("Uniqueid") == "c1"
    assert [(e.get("Variable"), e.get("Value")) for e in events(reply, "VarSet")] == [
        ("GTX_CALL_ID", "c1"), ("GTX_X", "1")]
    assert [e.get("ChannelStateDesc") for e in events(reply, "Newstate")] == ["Ringing"]
    run(clock, 2.5)
    assert not events(client.read(), "OriginateResponse")
    run(clock, 1)
    response = outcome(client)
    assert response.fields == [
        ("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", "a-c1"),
        ("Response", "Success"), ("Channel", "PJSIP/trunk-00000000"), ("Context", "gtx-test"),
        ("Exten", "wait"), ("Reason", "4"), ("Uniqueid", "c1"), ("CallerIDNum", "5550000"),
        ("CallerIDName", "Shop")]
    assert [c.name for c in server.live_channels()] == ["PJSIP/trunk-00000000"]
    run(clock, 20)
    (hangup,) = events(client.read(), "Hangup")
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("16", "Normal Clearing")
    assert server.live_channels() == []
    assert not clock.getDelayedCalls()


def _failed(number: str, dest: DialDestination, seconds: float, timeout: int = 30000
            ) -> tuple[AMIMessage, list[AMIMessage], Clock]:
    clock, _, client = setup(**{number: dest})
    originate(client, number, timeout=timeout)
    run(clock, seconds)
    response = outcome(client)
    assert response.get("Response") == "Failure"
    assert response.get("Channel") == TRUNK.format(number)
    assert response.get("Uniqueid") == "<unknown>"  # even with a ChannelId: match by ActionID
    return response, events(client.read(), "Hangup"), clock


def test_busy() -> None:
    response, hangups, clock = _failed("1", DialDestination.busy(after=1), 2)
    assert response.get("Reason") == "5"
    assert [(h.get("Cause"), h.get("Cause-txt")) for h in hangups] == [("17", "User busy")]
    assert not clock.getDelayedCalls()


def test_no_answer_rings_until_the_timeout() -> None:
    clock, _, client = setup(**{"2": DialDestination.no_answer()})
    originate(client, "2", timeout=5000)
    run(clock, 4.75)
    assert not events(client.read(), "OriginateResponse")
    run(clock, 0.5)
    assert outcome(client).get("Reason") == "3"
    assert [h.get("Cause") for h in events(client.read(), "Hangup")] == ["19"]
    assert not clock.getDelayedCalls()


def test_answer_later_than_the_timeout_is_no_answer() -> None:
    response, hangups, _ = _failed("3", DialDestination.answer(after=40), 31)
    assert response.get("Reason") == "3"
    assert [h.get("Cause-txt") for h in hangups] == ["User alerting, no answer"]


def test_congestion() -> None:
    response, hangups, _ = _failed("4", DialDestination.congestion(after=0.5), 1)
    assert response.get("Reason") == "8"
    assert [h.get("Cause") for h in hangups] == ["34"]


def test_unreachable_creates_no_channel() -> None:
    clock, server, client = setup()
    reply = originate(client, "555")
    run(clock, 1)
    assert outcome(client).get("Reason") == "0"
    assert not events(reply + client.read(), "Newchannel")
    assert server.live_channels() == []


def test_destination_found_by_number_alone() -> None:
    clock = Clock()
    server = EmulatedAMIServer(EmulatedAsterisk(clock, destinations={
        "777": DialDestination.busy(after=0)}))
    client = AMIClient(server)
    client.login()
    client.action(("Action", "Originate"), ("Channel", "SIP/trunk/777"), ("Application", "Wait"),
                  ("Data", "1"), ("Async", "yes"), ("ActionID", "x"))
    run(clock, 1)
    assert events(client.read(), "OriginateResponse")[0].get("Reason") == "5"


def test_sync_originate_answers_after_the_outcome_and_holds_events() -> None:
    clock, _, client = setup(**{"1": DialDestination.busy(after=2)})
    reply = client.action(("Action", "Originate"), ("Channel", TRUNK.format(1)),
                          ("Application", "Wait"), ("Data", "5"), ("ActionID", "s1"))
    assert reply == []  # the session waits, as Asterisk's manager thread does
    run(clock, 2.5)
    messages = client.read()
    first = next(i for i, m in enumerate(messages) if m.get("ActionID") == "s1")
    assert messages[first].fields == [("Response", "Error"), ("ActionID", "s1"),
                                      ("Message", "Originate failed")]
    assert [m.get("Event") for m in messages[first + 1:]][:1] == ["Newchannel"]
    assert not events(messages, "OriginateResponse")


def test_hangup_by_name_uniqueid_and_regex() -> None:
    clock, server, client = setup(**{n: DialDestination.answer(after=0, talk=None)
                                     for n in ("1", "2", "3")})
    for n in ("1", "2", "3"):
        originate(client, n, call_id=f"c{n}")
    run(clock, 1)
    names = [c.name for c in server.live_channels()]
    assert len(names) == 3
    by_name = client.action(("Action", "Hangup"), ("Channel", names[0]), ("ActionID", "h1"))
    assert by_name[0].fields == [("Response", "Success"), ("ActionID", "h1"),
                                 ("Message", "Channel Hungup")]
    by_id = client.action(("Action", "Hangup"), ("Channel", "c2"), ("Cause", "16"))
    assert events(by_id, "Hangup")[0].get("Cause") == "16"
    regex = client.action(("Action", "Hangup"), ("Channel", "/^PJSIP/trunk-.*$/"))
    assert regex[0].get("Message") == "Channels hung up: 1"
    gone = client.action(("Action", "Hangup"), ("Channel", "c1"), ("ActionID", "h4"))
    assert gone[0].fields == [("Response", "Error"), ("ActionID", "h4"),
                              ("Message", "No such channel")]
    assert server.live_channels() == []
    assert not clock.getDelayedCalls()


def test_hangup_while_ringing_ends_the_originate() -> None:
    clock, _, client = setup(**{"1": DialDestination.answer(after=10)})
    originate(client, "1")
    client.action(("Action", "Hangup"), ("Channel", "c1"))
    assert outcome(client).get("Reason") == "1"
    assert not clock.getDelayedCalls()


def test_core_show_channels_getvar_setvar() -> None:
    clock, _, client = setup(**{"1": DialDestination.answer(after=0, talk=None)})
    originate(client, "1", ("Variable", "GTX_CALL_ID=c1"))
    run(clock, 65)
    listed = client.action(("Action", "CoreShowChannels"), ("ActionID", "l"))
    assert listed[0].fields == [("Response", "Success"), ("ActionID", "l"),
                                ("EventList", "start"), ("Message", "Channels will follow")]
    (channel,) = events(listed, "CoreShowChannel")
    assert (channel.get("Uniqueid"), channel.get("Duration")) == ("c1", "00:01:05")
    assert listed[-1].fields == [("Event", "CoreShowChannelsComplete"), ("ActionID", "l"),
                                 ("EventList", "Complete"), ("ListItems", "1")]
    got = client.action(("Action", "Getvar"), ("Channel", "c1"), ("Variable", "GTX_CALL_ID"))
    assert got[0].fields == [("Response", "Success"), ("Variable", "GTX_CALL_ID"),
                             ("Value", "c1")]
    setvar = client.action(("Action", "Setvar"), ("Channel", "c1"), ("Variable", "X"),
                           ("Value", "y"))
    assert setvar[0].get("Message") == "Variable Set"
    assert events(setvar, "VarSet")[0].get("Value") == "y"
    assert client.action(("Action", "Getvar"), ("Channel", "c1"), ("Variable", "X"))[0].get(
        "Value") == "y"
    client.action(("Action", "Hangup"), ("Channel", "c1"))


def test_ping_user_event_errors_logoff() -> None:
    clock = Clock()
    server = EmulatedAMIServer(EmulatedAsterisk(clock))
    client = AMIClient(server)
    denied = client.action(("Action", "Ping"), ("ActionID", "p0"))
    assert denied[0].fields == [("Response", "Error"), ("ActionID", "p0"),
                                ("Message", "Permission denied")]
    client.login()
    pong = client.action(("Action", "Ping"), ("ActionID", "p1"))
    assert pong[0].fields[:3] == [("Response", "Success"), ("ActionID", "p1"), ("Ping", "Pong")]
    assert client.action(("ActionID", "x"))[0].get("Message") == "Missing action in request"
    user = client.action(("Action", "UserEvent"), ("UserEvent", "Hello"), ("Who", "me"))
    assert user[1].fields == [("Event", "UserEvent"), ("Privilege", "user,all"),
                              ("UserEvent", "Hello"), ("Who", "me")]
    bye = client.action(("Action", "Logoff"), ("ActionID", "bye"))
    assert bye[0].get("Response") == "Goodbye"
    assert client.closed


def test_controls_actions_disconnect_refuse_logins() -> None:
    clock, server, client = setup(**{"1": DialDestination.answer(after=1, talk=5)})
    originate(client, "1")
    assert [a.get("Action") for a in server.actions] == ["Login", "Originate"]
    server.disconnect_all()
    assert client.closed
    client.protocol.connectionLost(None)
    assert server.sessions == []
    run(clock, 2)  # the call goes on without any AMI client
    assert server.find_call("c1") is not None
    assert server.find_call("c1").answered  # type: ignore[union-attr]
    server.refuse_logins = True
    again = AMIClient(server, port=33003)
    assert again.login()[0].get("Message") == "Authentication failed"
    assert again.closed
    server.refuse_logins = False
    third = AMIClient(server, port=33004)
    assert third.login()[0].get("Message") == "Authentication accepted"
    run(clock, 5)
    assert events(third.read(), "Hangup")  # events of calls placed before it logged in
    assert not clock.getDelayedCalls()
