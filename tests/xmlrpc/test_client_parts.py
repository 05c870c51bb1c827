"""The client's parts without a network: the size-limited answer reader, the pool guard."""

from __future__ import annotations

import pytest
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from zope.interface import implementer

from gtx.xmlrpc.client import _AnswerReader, _ConnectionPool
from gtx.xmlrpc.errors import BodyTooLarge, ConnectFailed


@implementer(IPushProducer)
class FakeConnection:
    """Stands for the connection a response body comes from."""

    def __init__(self) -> None:
        self.stopped = False

    def stopProducing(self) -> None:
        self.stopped = True

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass


def reader(limit: int = 10) -> tuple[_AnswerReader, FakeConnection, list[object]]:
    answer = _AnswerReader(limit)
    connection = FakeConnection()
    answer.makeConnection(connection)  # type: ignore[arg-type]
    outcome: list[object] = []
    assert answer.finished is not None
    answer.finished.addBoth(outcome.append)
    return answer, connection, outcome


@pytest.mark.parametrize("end", [ResponseDone(), PotentialDataLoss()])
def test_collects_the_body_until_its_end(end: Exception) -> None:
    answer, connection, outcome = reader()
    answer.dataReceived(b"12345")
    answer.dataReceived(b"67890")
    assert outcome == []
    answer.connectionLost(Failure(end))
    assert outcome == [b"1234567890"]
    assert not connection.stopped


def test_stops_reading_past_the_limit() -> None:
    answer, connection, outcome = reader()
    answer.dataReceived(b"123456")
    answer.dataReceived(b"789012")
    assert connection.stopped
    [failure] = outcome
    assert isinstance(failure, Failure)
    assert failure.check(BodyTooLarge)
    answer.dataReceived(b"more")
    answer.connectionLost(Failure(ConnectionLost()))  # the stop we caused: already reported
    assert len(outcome) == 1


def test_announced_length_over_the_limit_is_refused_at_once() -> None:
    answer, connection, outcome = reader()
    answer.refuse(5000)
    assert connection.stopped
    [failure] = outcome
    assert isinstance(failure, Failure)
    assert str(failure.value) == "body of 5000 bytes exceeds the limit of 10 bytes"


def test_connection_lost_midway_is_a_connect_failure() -> None:
    answer, _, outcome = reader()
    answer.dataReceived(b"123")
    answer.connectionLost(Failure(ConnectionLost("reset by peer")))
    [failure] = outcome
    assert isinstance(failure, Failure)
    assert failure.check(ConnectFailed)
    assert "connection lost while reading the answer" in str(failure.value)


def test_cancel_drops_the_connection() -> None:
    answer, connection, outcome = reader()
    assert answer.finished is not None
    answer.finished.cancel()
    assert connection.stopped
    [failure] = outcome
    assert isinstance(failure, Failure)
    assert failure.check(CancelledError)
    answer.connectionLost(Failure(ConnectionLost()))
    assert len(outcome) == 1


class FakeProtocol:
    """A quiescent HTTP client connection as the pool sees it."""

    state = "QUIESCENT"

    def __init__(self, closing: bool) -> None:
        self.transport = StringTransport()
        self.transport.disconnecting = closing


def test_the_pool_never_keeps_a_closing_connection() -> None:
    clock = Clock()
    pool = _ConnectionPool(clock, persistent=True)
    key = (b"http", b"127.0.0.1", 8000)
    pool._putConnection(key, FakeProtocol(closing=True))
    assert pool._connections.get(key, []) == []
    assert clock.getDelayedCalls() == []
    healthy = FakeProtocol(closing=False)
    pool._putConnection(key, healthy)
    assert pool._connections[key] == [healthy]
    clock.advance(pool.cachedConnectionTimeout)
    assert pool._connections[key] == []
