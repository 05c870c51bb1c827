"""The emulator answers exactly like the real Asterisk the transcripts were recorded on.

For every session of every ``fastagi-*.txt`` transcript, the test plays the FastAGI server: it
sends the transcript's commands one by one and checks that the emulator's bytes are the
transcript's ``<<`` lines, byte for byte, environment block and ``HANGUP`` lines included.

Real Asterisk sends the asynchronous ``HANGUP`` line as soon as it notices the hang-up, so it
may already be there right after the reply of the command during which the caller hung up;
the transcripts (recorded by a server that read lazily) list it before the next reply. Both
are the same byte stream; the test accepts exactly that one shift and no other difference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gtx.testing import CallSpec, TranscriptSession, parse_transcript
from tests.testing.replay import start_call

#: What the dialplan and the caller did around each recorded session (file, session index):
#: channel variables set before AGI(), values inherited over IAX2, and the caller's script.
SCENARIOS: dict[tuple[str, int], dict[str, object]] = {
    ("fastagi-full-session.txt", 0): {
        "variables": {"GTX_URL": "http://127.0.0.1:9999/RPC2"},
        "caller": "press 12# during GET DATA",
    },
    ("fastagi-caller-hangs-up.txt", 0): {
        "variables": {"GTX_URL": "http://127.0.0.1:9999/RPC2"},
        "caller": "hangup during GET DATA",
    },
    ("fastagi-query-string-and-args.txt", 0): {
        "variables": {},
        "caller": "hangup during GET DATA",
    },
    ("fastagi-iax2-handoff-server-b.txt", 0): {
        "variables": {},
        "inherited": {
            "IAXVAR(GTX_SESSION)": "1795304604.1",
            "IAXVAR(GTX_VARS)": '{"visits": 2, "lang": "en"}',
            "IAXVAR(GTX_NEXT)": "menu.three",
        },
        "peer": "gtxa",
        "caller": "",
    },
}


def _sessions(transcripts: Path) -> list[tuple[str, int, TranscriptSession]]:
    found = []
    for path in sorted(transcripts.glob("fastagi-*.txt")):
        for index, session in enumerate(parse_transcript(path.read_text())):
            found.append((path.name, index, session))
    return found


def test_every_recorded_session_has_a_scenario(transcripts_dir: Path) -> None:
    recorded = {(name, index) for name, index, _ in _sessions(transcripts_dir)}
    assert recorded == set(SCENARIOS)


@pytest.mark.parametrize(("name", "index"), sorted(SCENARIOS))
def test_emulator_replays_transcript_byte_for_byte(
    transcripts_dir: Path, name: str, index: int
) -> None:
    session = parse_transcript((transcripts_dir / name).read_text())[index]
    scenario = SCENARIOS[(name, index)]
    spec = CallSpec.from_environment(
        session.env,
        variables=scenario["variables"],
        inherited=scenario.get("inherited", {}),
        peer=scenario.get("peer", ""),
    )
    call = start_call(spec, str(scenario["caller"]))

    # The environment block, before any command.
    assert bytes(call.server.received) == session.environment_bytes()

    expected = bytearray(session.environment_bytes())
    exchanges = session.exchanges
    for number, exchange in enumerate(exchanges):
        assert exchange.command is not None
        replies = list(exchange.replies)
        already = bytes(call.server.received)[len(expected) :]
        if already == b"HANGUP\n":
            # sent ahead, right after the previous reply (see the module docstring)
            assert replies[0] == "HANGUP", f"unexpected HANGUP before {exchange.command!r}"
        wanted_lines = len([r for r in replies if r != "HANGUP"])
        call.command(exchange.command, expect_lines=wanted_lines)
        expected += "".join(f"{r}\n" for r in replies).encode()
        got = bytes(call.server.received)
        last = number == len(exchanges) - 1
        next_starts_with_hangup = not last and exchanges[number + 1].replies[:1] == ["HANGUP"]
        if got != expected and (next_starts_with_hangup or last):
            assert got == bytes(expected) + b"HANGUP\n", f"after {exchange.command!r}"
        else:
            assert got == bytes(expected), (
                f"after {exchange.command!r}: got {got[len(expected) - 60 :]!r}"
            )

    stream = bytes(call.server.received)
    assert stream in (session.asterisk_bytes(), session.asterisk_bytes() + b"HANGUP\n")
    record = call.hang_up_server()
    assert record.transcript.startswith("<< agi_network: yes\n")
    assert record.session.commands == session.commands
