"""The pure FastAGI parsers: replies, usage blocks, environment, quoting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gtx.asterisk.agi_parse import (
    AGIProtocolError,
    AGIReply,
    CommandSyntaxError,
    parse_environment,
    parse_environment_line,
    parse_reply,
    parse_usage,
    quote_arg,
    token_arg,
)
from gtx.channel import ChannelGone


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("200 result=0", AGIReply(200, "0")),
        ("200 result=-1", AGIReply(200, "-1")),
        ("200 result=12", AGIReply(200, "12")),
        ("200 result=1 (step=2;x=y)", AGIReply(200, "1", data="step=2;x=y")),
        ("200 result=0 endpos=11234", AGIReply(200, "0", endpos=11234)),
        ("200 result=-1 endpos=0", AGIReply(200, "-1", endpos=0)),
        ("200 result=0 (timeout) endpos=0", AGIReply(200, "0", data="timeout", endpos=0)),
        ("200 result=35 (dtmf) endpos=8000", AGIReply(200, "35", data="dtmf", endpos=8000)),
        ("200 result=-1 (hangup) endpos=160", AGIReply(200, "-1", data="hangup", endpos=160)),
        ("200 result=-1 (writefile)", AGIReply(200, "-1", data="writefile")),
        ("200 result=1 ()", AGIReply(200, "1", data="")),
        ("200 result= (timeout)", AGIReply(200, "", data="timeout")),
        ("200 result=12 (timeout)", AGIReply(200, "12", data="timeout")),
        # data with spaces, parentheses and even "endpos=" inside
        ("200 result=1 (a (b) c)", AGIReply(200, "1", data="a (b) c")),
        ("200 result=1 (x) endpos=3)", AGIReply(200, "1", data="x) endpos=3")),
        (
            '200 result=1 ({"visits": 2, "lang": "en"})',
            AGIReply(200, "1", data='{"visits": 2, "lang": "en"}'),
        ),
        (
            "200 result=1 (http://127.0.0.1:9999/RPC2)",
            AGIReply(200, "1", data="http://127.0.0.1:9999/RPC2"),
        ),
        ("200 result=0 Gosub complete", AGIReply(200, "0", text="Gosub complete")),
        ("100 result=0 Trying...", AGIReply(100, "0", text="Trying...")),
        ("510 Invalid or unknown command", AGIReply(510, text="Invalid or unknown command")),
        (
            "511 Command Not Permitted on a dead channel or intercept routine",
            AGIReply(511, text="Command Not Permitted on a dead channel or intercept routine"),
        ),
        (
            "520 Invalid command syntax.  Proper usage not available.",
            AGIReply(520, text="Invalid command syntax.  Proper usage not available."),
        ),
    ],
)
def test_reply_forms(line: str, expected: AGIReply) -> None:
    assert parse_reply(line) == expected


@pytest.mark.parametrize(
    "line",
    ["", "HANGUP", "hello", "20 result=0", "200", "200 foo=1", "2000 result=1", "abc result=1"],
)
def test_malformed_reply_is_a_protocol_error(line: str) -> None:
    with pytest.raises(AGIProtocolError):
        parse_reply(line)


def test_protocol_error_is_a_lost_channel() -> None:
    # The engine treats it like a lost connection: the connection is dropped.
    assert issubclass(AGIProtocolError, ChannelGone)


def test_result_int() -> None:
    assert parse_reply("200 result=-2").result_int == -2
    with pytest.raises(AGIProtocolError, match="integer"):
        _ = parse_reply("200 result=*1").result_int


def test_usage_block() -> None:
    reply = parse_usage(
        [
            "520-Invalid command syntax.  Proper usage follows:",
            " Usage: GET DATA <file to be streamed> [timeout] [max digits]",
            "        Stream the given file.",
            "520 End of proper usage.",
        ]
    )
    assert reply.code == 520
    assert reply.text == (
        "Usage: GET DATA <file to be streamed> [timeout] [max digits]\n"
        "        Stream the given file."
    )


def test_usage_block_glued_to_the_end_marker() -> None:
    # Asterisk prints the usage with "%s": when it lacks a final newline the marker is glued on.
    reply = parse_usage(
        [
            "520-Invalid command syntax.  Proper usage follows:",
            "Returns the digits received from the channel at the other end."
            "520 End of proper usage.",
        ]
    )
    assert reply.text == "Returns the digits received from the channel at the other end."


def test_environment_line() -> None:
    assert parse_environment_line("agi_accountcode: ") == ("agi_accountcode", "")
    assert parse_environment_line("agi_arg_1: a: b") == ("agi_arg_1", "a: b")
    assert parse_environment_line("agi_x:") == ("agi_x", "")
    with pytest.raises(AGIProtocolError):
        parse_environment_line("200 result=0")


def test_environment_to_call_info() -> None:
    info = parse_environment(
        [
            "agi_network: yes",
            "agi_network_script: ivr?url=http%3A%2F%2Fsvc.example%3A8000%2FRPC2&method=menu.start",
            "agi_request: agi://127.0.0.1:4573/ivr?url=http%3A%2F%2Fsvc.example%3A8000%2FRPC2&method=menu.start",
            "agi_channel: Local/agiq@gtx-test-00000012;2",
            "agi_language: fr",
            "agi_uniqueid: 1795305300.38",
            "agi_callerid: unknown",
            "agi_calleridname: unknown",
            "agi_dnid: unknown",
            "agi_context: gtx-test",
            "agi_extension: agiq",
            "agi_priority: 2",
            "agi_accountcode: ",
            "agi_arg_2: 2",
            "agi_arg_1: first arg",
            "agi_arg_10: tenth",
        ],
        asterisk="pbx1",
    )
    assert info.channel == "Local/agiq@gtx-test-00000012;2"
    assert info.uniqueid == "1795305300.38"
    assert (info.caller_number, info.caller_name, info.called) == ("", "", "")
    assert info.script == "ivr"
    assert info.query == {"url": "http://svc.example:8000/RPC2", "method": "menu.start"}
    assert list(info.args) == ["first arg", "2", "tenth"]
    assert (info.context, info.extension, info.priority) == ("gtx-test", "agiq", "2")
    assert info.language == "fr"
    assert info.accountcode == ""
    assert info.asterisk == "pbx1"
    assert info.environment["agi_network"] == "yes"


def test_script_from_the_request_when_no_network_script() -> None:
    info = parse_environment(
        ["agi_request: agi://10.0.0.1/menu?lang=en", "agi_channel: SIP/a-1", "agi_uniqueid: 1.2"]
    )
    assert info.script == "menu"
    assert info.query == {"lang": "en"}


def test_leading_slash_is_not_part_of_the_script() -> None:
    info = parse_environment(
        ["agi_network_script: /menu", "agi_channel: SIP/a-1", "agi_uniqueid: 1.2"]
    )
    assert info.script == "menu"


def test_environment_needs_a_channel() -> None:
    with pytest.raises(AGIProtocolError, match="agi_channel"):
        parse_environment(["agi_uniqueid: 1.2"])


def test_quote_arg() -> None:
    assert quote_arg("") == '""'
    assert quote_arg("step=2;x=y") == '"step=2;x=y"'
    assert quote_arg('say "hi"') == r'"say \"hi\""'
    assert quote_arg("a\\b") == r'"a\\b"'


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\0b"])
def test_quote_arg_refuses_line_breaks(value: str) -> None:
    with pytest.raises(CommandSyntaxError):
        quote_arg(value)
    with pytest.raises(CommandSyntaxError):
        token_arg(value)


def test_token_arg() -> None:
    assert token_arg("hello-world") == "hello-world"
    assert token_arg("${CALLERID(num)}-${UNIQUEID}") == "${CALLERID(num)}-${UNIQUEID}"
    assert token_arg("two words") == '"two words"'
    assert token_arg("") == '""'


def _asterisk_parse_args(line: str) -> list[str]:
    """Asterisk's parse_args() (res_agi.c), re-stated to check quote_arg against it."""
    args: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if current is None:
                current = []
            continue
        if char in " \t" and not quoted and not escaped:
            if current is not None:
                args.append("".join(current))
                current = None
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if current is None:
            current = []
        current.append(char)
        escaped = False
    if current is not None:
        args.append("".join(current))
    return args


@given(st.lists(st.text(alphabet=st.characters(exclude_characters="\n\r\0"), max_size=20)))
def test_quoted_arguments_survive_asterisks_parser(values: list[str]) -> None:
    line = " ".join(["SET", "VARIABLE", *(quote_arg(value) for value in values)])
    assert _asterisk_parse_args(line) == ["SET", "VARIABLE", *values]
