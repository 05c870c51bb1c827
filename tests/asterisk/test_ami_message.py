"""AMI messages: parsing, formatting and the escaping of Originate variables."""

from __future__ import annotations

import re

import pytest
from twisted.internet.task import Clock

from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_message import (
    AMIFormatError,
    escape_variable_value,
    format_action,
    parse_message,
    sequential_action_ids,
    variable_header,
)
from gtx.asterisk.ami_protocol import AMIProtocol
from tests.asterisk.ami_transcripts import BANNER, ScriptedEndpoint, Transcript, wire


def test_headers_keep_order_repeats_and_empty_values() -> None:
    message = parse_message(["Event: Newchannel", "AccountCode: ", "Variable: A=1",
                             "variable: B=2", "Uniqueid: 1795304604.0"])
    assert message.event == "Newchannel"
    assert message.response is None
    assert message.get("accountcode") == ""
    assert "AccountCode" in message
    assert message.get_all("VARIABLE") == ["A=1", "B=2"]
    assert message.get("Missing", "x") == "x"


def test_response_and_action_id() -> None:
    message = parse_message(["Response: Error", "ActionID: l1", "Message: Authentication failed"])
    assert message.response == "Error"
    assert message.action_id == "l1"
    assert message.event is None


def test_a_line_without_a_colon_is_kept_unnamed() -> None:
    assert parse_message(["Response: Follows", "raw output"]).headers[1] == ("", "raw output")


def test_format_puts_action_first_and_action_id_last() -> None:
    assert format_action("Hangup", "hup-1", [("Channel", "gtx-rec-1")]) == (
        Transcript.load("ami-mixmonitor.txt").action("hup-1"))


@pytest.mark.parametrize(
    "fields",
    [[("Channel", "x\r\nAction: Hangup")], [("Bad Name", "x")], [("Channel", "x\ny")]],
)
def test_format_refuses_what_would_inject_headers(fields: list[tuple[str, str]]) -> None:
    with pytest.raises(AMIFormatError):
        format_action("Originate", "o-1", fields)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("plain", "plain"),
        ('{"a": 1, "b": [2]}', '{\\"a\\": 1\\, \\"b\\": \\[2\\]}'),
        ("a\\b", "a\\\\b"),
        ("f(x)", "f\\(x\\)"),
    ],
)
def test_variable_values_survive_asterisks_argument_splitter(value: str, escaped: str) -> None:
    assert escape_variable_value(value) == escaped
    assert _asterisk_splits(escaped) == [value]


def _asterisk_splits(text: str) -> list[str]:
    """Asterisk's AST_STANDARD_APP_ARGS on a Variable value: split on commas outside quotes,
    parentheses and brackets; quotes and backslashes removed, a backslash keeps the next
    character as is."""
    args, current, depth, quoted, i = [], [], 0, False, 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char in "([":
            depth += 1
            current.append(char)
        elif char in ")]":
            depth = max(0, depth - 1)
            current.append(char)
        elif char == "," and not quoted and depth == 0:
            args.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    args.append("".join(current))
    return args


def test_variable_names_are_checked() -> None:
    assert variable_header("__GTX_X", "1") == ("Variable", "__GTX_X=1")
    with pytest.raises(AMIFormatError):
        variable_header("GTX X", "1")


def test_sequential_ids() -> None:
    next_id = sequential_action_ids("p")
    assert [next_id(), next_id()] == ["p-1", "p-2"]


def test_default_ids_differ_between_processes_sharing_a_server() -> None:
    ids = set()
    for _ in range(2):
        client = AMIClient("pbx1", ScriptedEndpoint(), "gtx", "s", clock=Clock())
        ids.add(client.next_action_id())
    assert len(ids) == 2
    assert all(re.fullmatch(r"gtx-pbx1-[0-9a-f]{8}-1", i) for i in ids)


class _Connection:
    def __init__(self) -> None:
        self.clock = Clock()
        self.events: list[object] = []
        self.lost: list[object] = []
        endpoint = ScriptedEndpoint()
        factory_protocol = AMIProtocol(self.clock, self.events.append,
                                       lambda p, r: self.lost.append(r))

        class _Factory:
            def buildProtocol(self, addr: object) -> AMIProtocol:
                return factory_protocol

        endpoint.connect(_Factory())  # type: ignore[arg-type]
        self.protocol = factory_protocol
        self.peer = endpoint.peer
        self.peer.feed(BANNER)


def test_a_line_too_long_drops_the_connection() -> None:
    connection = _Connection()
    connection.peer.feed(b"Event: X\r\nData: " + b"x" * 70_000 + b"\r\n")
    assert not connection.peer.open
    assert connection.lost


def test_a_message_with_too_many_headers_drops_the_connection() -> None:
    connection = _Connection()
    connection.peer.feed(b"Event: X\r\n" + b"H: 1\r\n" * 1100)
    assert not connection.peer.open


def test_a_list_action_refused_fails_and_its_events_are_not_awaited() -> None:
    connection = _Connection()
    errors: list[object] = []
    d = connection.protocol.send_list_action("QueueStatus", "q-1", timeout=5)
    d.addErrback(lambda f: errors.append(f.value))
    connection.peer.feed(wire(["Response: Error", "ActionID: q-1", "Message: Permission denied"]))
    assert len(errors) == 1
    assert connection.clock.getDelayedCalls() == []


def test_the_same_action_id_twice_is_refused() -> None:
    connection = _Connection()
    connection.protocol.send_action("Ping", "p-1", timeout=5)
    errors: list[object] = []
    connection.protocol.send_action("Ping", "p-1", timeout=5).addErrback(
        lambda f: errors.append(f.value))
    assert isinstance(errors[0], ValueError)
