"""The transcript format: parsing, sessions, writing back."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtx.testing import TranscriptError, format_transcript, parse_transcript

# Built line by line: the empty value and the end of the environment keep a trailing space.
TWO_SESSIONS = "".join(
    f"{line}\n"
    for line in (
        "<< agi_network: yes",
        "<< agi_request: agi://h/a",
        "<< agi_accountcode: ",
        "<< ",
        ">> ANSWER",
        "<< 200 result=0",
        ">> HANGUP",
        "<< 200 result=1",
        "<< agi_network: yes",
        "<< agi_request: agi://h/b",
        "<< ",
        ">> GET VARIABLE X",
        "<< HANGUP",
        "<< 200 result=0",
    )
)


def test_a_new_environment_block_starts_a_new_session() -> None:
    first, second = parse_transcript(TWO_SESSIONS)
    assert first.environment == [
        ("agi_network", "yes"),
        ("agi_request", "agi://h/a"),
        ("agi_accountcode", ""),
    ]
    assert first.commands == ["ANSWER", "HANGUP"]
    assert second.env["agi_request"] == "agi://h/b"
    assert second.exchanges[0].replies == ["HANGUP", "200 result=0"]


def test_writing_gives_back_the_same_text() -> None:
    assert format_transcript(parse_transcript(TWO_SESSIONS)) == TWO_SESSIONS


def test_wire_bytes_keep_the_empty_value_and_end_with_an_empty_line() -> None:
    first = parse_transcript(TWO_SESSIONS)[0]
    assert first.environment_bytes().endswith(b"agi_accountcode: \n\n")
    assert first.client_bytes() == b"ANSWER\nHANGUP\n"
    assert first.asterisk_bytes().endswith(b"\n200 result=0\n200 result=1\n")


def test_reference_transcripts_parse_and_round_trip(transcripts_dir: Path) -> None:
    for path in transcripts_dir.glob("fastagi-*.txt"):
        text = path.read_text()
        sessions = parse_transcript(text)
        assert sessions, path.name
        assert format_transcript(sessions) == text
        assert sessions[0].environment[0] == ("agi_network", "yes")


def test_full_session_lists_args_in_order(transcripts_dir: Path) -> None:
    session = parse_transcript((transcripts_dir / "fastagi-full-session.txt").read_text())[0]
    assert session.args == ["arg1", "arg 2"]


@pytest.mark.parametrize(
    "text",
    [
        ">> ANSWER\n",
        "<< agi_network: yes\n>> ANSWER\n",
        "<< agi_network: yes\n<< bad line\n",
        "<> x\n",
    ],
)
def test_malformed_transcripts_are_refused(text: str) -> None:
    with pytest.raises(TranscriptError):
        parse_transcript(text)
