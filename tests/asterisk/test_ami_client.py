"""The AMI link: login, bad login, actions matched by ActionID, bounds, keep-alive, reconnect
with back-off — bytes in, bytes out, against the real transcripts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gtx.asterisk.ami_message import (
    AMIActionError,
    AMIConnectionLost,
    AMIMessage,
    AMINotConnected,
    AMITimeout,
)
from tests.asterisk.ami_transcripts import LOGIN_OK, Link, Transcript, pending_times, wire

OUTCOMES = Transcript.load("ami-originate-outcomes.txt")


@pytest.fixture
def link() -> Iterator[Link]:
    link = Link("login-1")
    yield link
    if link.client.running:
        link.stop()


def test_login_sends_the_transcripts_bytes_after_the_banner(link: Link) -> None:
    link.client.startService()
    peer = link.endpoint.peer
    assert peer.written() == b""  # nothing before the banner
    assert not link.client.connected
    peer.feed(OUTCOMES.banner_bytes())
    assert peer.written() == OUTCOMES.action("login-1")
    peer.feed(OUTCOMES.asterisk_bytes(after="login-1", until="orig-busy")[:2000])
    assert link.client.connected
    assert link.logins == 1
    assert link.client.last_error == ""
    assert [e.event for e in link.events][:2] == ["FullyBooted", "SuccessfulAuth"]


def test_bad_login_is_a_clear_error_and_retried_with_back_off() -> None:
    bad = Transcript.load("ami-bad-login.txt")
    link = Link("l1", "l2", secret="wrong")
    link.client.startService()
    peer = link.endpoint.peer
    peer.feed(bad.banner_bytes())
    assert peer.written() == bad.action("l1")
    peer.feed(bad.asterisk_bytes(after="l1", until="p1"))
    assert not link.client.connected
    assert link.client.last_error == "login refused for user 'gtx': Authentication failed"
    assert not peer.open  # closed by gtx, not left to Asterisk
    assert link.logins == 0
    # Not a tight loop: the next attempt waits the back-off (0.5 * 2 + jitter 0.25).
    assert pending_times(link.clock) == [1.25]
    link.clock.advance(1.25)
    assert link.endpoint.attempts == 2
    second = link.endpoint.peer
    second.feed(bad.banner_bytes())
    second.feed(wire(["Response: Error", "ActionID: l2", "Message: Authentication failed"]))
    assert pending_times(link.clock) == [1.25 + 2.25]  # the delay grows
    link.stop()


def test_not_an_ami_server_is_dropped(link: Link) -> None:
    link.client.startService()
    link.endpoint.peer.feed(b"HTTP/1.1 400 Bad Request\r\n")
    assert not link.endpoint.peer.open
    assert link.endpoint.peer.written() == b""  # the secret was never sent
    assert "not an AMI server" in link.client.last_error


def test_no_banner_is_bounded(link: Link) -> None:
    link.client.startService()
    link.clock.advance(10)
    assert not link.endpoint.peer.open
    assert len(pending_times(link.clock)) == 1  # the retry


def test_reconnect_backs_off_exponentially_up_to_the_cap() -> None:
    link = Link("login-1")
    link.endpoint.refuse = 8
    link.client.startService()
    delays = []
    for _ in range(8):
        (due,) = pending_times(link.clock)
        delays.append(due - link.clock.seconds())
        link.clock.advance(due - link.clock.seconds())
    assert delays == [1.25, 2.25, 4.25, 8.25, 16.25, 30.25, 30.25, 30.25]
    assert "cannot connect" in link.client.last_error
    assert link.endpoint.attempts == 9
    link.endpoint.peer.feed(OUTCOMES.banner_bytes())
    link.endpoint.peer.feed(LOGIN_OK)
    assert link.client.connected
    # A success resets the back-off: a drop is retried after the first delay again.
    link.endpoint.peer.close()
    assert not link.client.connected
    assert pending_times(link.clock) == [link.clock.seconds() + 1.25]
    link.stop()


def test_events_are_dispatched_by_name(link: Link) -> None:
    seen: list[str] = []
    unsubscribe = link.client.subscribe("hangup", lambda e: seen.append(e.get("Uniqueid")))
    link.login()
    link.endpoint.peer.feed(OUTCOMES.asterisk_bytes(after="orig-busy", until="orig-nonexist"))
    # The busy call's two halves (;1 and ;2), in the order Asterisk sent them.
    assert seen == ["1795304690.8", "1795304690.9"]
    unsubscribe()
    count = len(seen)
    link.endpoint.peer.feed(OUTCOMES.asterisk_bytes(after="orig-nonexist", until="orig-noanswer"))
    assert len(seen) == count


def test_a_failing_handler_does_not_stop_the_others(link: Link) -> None:
    def broken(event: AMIMessage) -> None:
        raise RuntimeError("bug")

    link.client.subscribe("FullyBooted", broken)
    link.login()
    link.endpoint.peer.feed(wire(["Event: FullyBooted", "Status: Fully Booted"]))
    assert link.events[-1].event == "FullyBooted"


def test_unknown_action_fails_with_asterisks_message() -> None:
    link = Link("login-1", "bad-1").login()
    d = link.client.send_action("NoSuchAction")
    assert link.endpoint.peer.written() == OUTCOMES.action("bad-1")
    link.endpoint.peer.feed(OUTCOMES.asterisk_bytes(after="bad-1", until="orig-missing"))
    errors: list[object] = []
    d.addErrback(lambda f: errors.append(f.value))
    (error,) = errors
    assert isinstance(error, AMIActionError)
    assert error.message.startswith("Invalid/unknown command: NoSuchAction.")
    assert link.events[-1].event == "RequestBadFormat"
    link.stop()


def test_answers_are_matched_by_action_id_not_by_order() -> None:
    link = Link("login-1", "a", "b").login()
    first = link.client.send_action("Ping")
    second = link.client.send_action("Ping")
    link.endpoint.peer.feed(wire(["Response: Success", "ActionID: b", "Ping: Pong"]))
    assert second.called
    assert not first.called
    link.endpoint.peer.feed(wire(["Response: Success", "ActionID: a", "Ping: Pong"]))
    assert first.called
    link.stop()


def test_every_action_is_bounded() -> None:
    link = Link("login-1").login()
    d = link.client.send_action("Ping", timeout=3)
    errors: list[object] = []
    d.addErrback(lambda f: errors.append(f.value))
    link.clock.advance(3)
    assert isinstance(errors[0], AMITimeout)
    # A late answer is dropped quietly.
    link.endpoint.peer.feed(wire(["Response: Success", "ActionID: extra-1"]))
    link.stop()


def test_actions_fail_at_once_when_the_link_is_down(link: Link) -> None:
    errors: list[object] = []
    link.client.send_action("Ping").addErrback(lambda f: errors.append(f.value))
    assert isinstance(errors[0], AMINotConnected)


def test_link_lost_fails_pending_actions_and_reconnects() -> None:
    link = Link("login-1", "p1", "login-2").login()
    disconnects: list[bool] = []
    link.client.on_disconnect(lambda: disconnects.append(True))
    errors: list[object] = []
    link.client.send_action("Ping").addErrback(lambda f: errors.append(f.value))
    link.endpoint.peer.close()
    assert isinstance(errors[0], AMIConnectionLost)
    assert disconnects == [True]
    assert not link.client.connected
    link.clock.advance(1.25)
    link.endpoint.peer.feed(OUTCOMES.banner_bytes())
    assert b"ActionID: login-2" in link.endpoint.peer.written()
    link.endpoint.peer.feed(wire(["Response: Success", "ActionID: login-2"]))
    assert link.client.connected
    assert link.logins == 2
    link.stop()


def test_keep_alive_drops_a_silent_link() -> None:
    link = Link("login-1", "ping-1", "ping-2").login()
    peer = link.endpoint.peer
    link.clock.advance(20)
    assert peer.written() == wire(["Action: Ping", "ActionID: ping-1"])
    peer.feed(wire(["Response: Success", "ActionID: ping-1", "Ping: Pong"]))
    link.clock.advance(20)
    assert b"ping-2" in peer.written()
    link.clock.advance(10)  # no answer within the action timeout
    assert not peer.open
    assert not link.client.connected
    link.stop()


def test_list_action_collects_its_events() -> None:
    mix = Transcript.load("ami-mixmonitor.txt")
    link = Link("login-1", "csc-1").login()
    d = link.client.send_list_action("CoreShowChannels")
    assert link.endpoint.peer.written() == mix.action("csc-1")
    link.endpoint.peer.feed(mix.asterisk_bytes(after="csc-1", until="hup-1"))
    listed = []
    d.addCallback(listed.append)
    (result,) = listed
    assert [e.get("Uniqueid") for e in result.events] == ["gtx-rec-1b", "gtx-rec-1"]
    assert result.complete is not None
    assert result.complete.get("ListItems") == "2"
    assert not [e for e in link.events if e.event == "CoreShowChannel"]  # not dispatched
    link.stop()


def test_stop_closes_the_link_and_leaves_no_timer() -> None:
    link = Link("login-1").login()
    link.stop()
    assert not link.endpoint.peer.open
    assert not link.client.connected


def test_stop_while_waiting_to_retry() -> None:
    link = Link("login-1")
    link.endpoint.refuse = 1
    link.client.startService()
    assert len(link.clock.getDelayedCalls()) == 1
    link.stop()
