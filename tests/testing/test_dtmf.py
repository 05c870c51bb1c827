"""DTMF timing: what interrupts playback, what GET DATA collects, what is lost."""

from __future__ import annotations

from gtx.testing import CallSpec
from tests.testing.replay import start_call


def test_escape_digit_stops_stream_file_where_it_was() -> None:
    call = start_call(CallSpec(), "wait 0.5; press #")
    assert call.command('STREAM FILE hello-world "#"') == "200 result=35 endpos=4000\n"
    record = call.hang_up_server()
    assert record.played == ["hello-world"]
    assert record.digits == "#"


def test_other_digits_do_not_interrupt_and_are_lost() -> None:
    call = start_call(CallSpec(), "wait 0.5; press 1")
    assert call.command('STREAM FILE hello-world "#"') == "200 result=0 endpos=11234\n"
    assert call.hang_up_server().dropped_digits == "1"


def test_stream_file_takes_the_file_length_on_the_clock() -> None:
    call = start_call(CallSpec())
    call.server.send('STREAM FILE hello-world ""')
    call.clock.advance(1.4)
    assert not call.server.received.endswith(b"endpos=11234\n")
    call.clock.advance(0.01)
    assert call.server.received.endswith(b"200 result=0 endpos=11234\n")


def test_sample_offset_starts_playback_later() -> None:
    call = start_call(CallSpec())
    assert call.command('STREAM FILE hello-world "" 8000') == "200 result=0 endpos=11234\n"
    assert call.clock.seconds() < 0.5


def test_get_data_collects_until_max_digits() -> None:
    call = start_call(CallSpec(), "press 1234 during GET DATA")
    assert call.command("GET DATA beep 3000 3") == "200 result=123\n"


def test_get_data_timeout_returns_digits_so_far() -> None:
    call = start_call(CallSpec(), "press 12 during GET DATA")
    assert call.command("GET DATA beep 1000 5") == "200 result=12 (timeout)\n"
    call = start_call(CallSpec())
    assert call.command("GET DATA beep 1000 5") == "200 result= (timeout)\n"


def test_get_data_pound_alone_gives_an_empty_result() -> None:
    call = start_call(CallSpec(), "press # during GET DATA")
    assert call.command("GET DATA beep 2000 4") == "200 result=\n"


def test_get_data_with_a_missing_prompt_fails() -> None:
    call = start_call(CallSpec())
    assert call.command("GET DATA no-such-prompt 2000 4") == "200 result=-1\n"


def test_wait_for_digit_returns_the_ascii_code_or_zero() -> None:
    call = start_call(CallSpec(), "press * during WAIT FOR DIGIT")
    assert call.command("WAIT FOR DIGIT 5000") == "200 result=42\n"
    assert call.command("WAIT FOR DIGIT 300") == "200 result=0\n"


def test_digits_between_commands_are_dropped() -> None:
    call = start_call(CallSpec(), "wait 1; press 5")
    call.advance(2)
    assert call.command("WAIT FOR DIGIT 1000") == "200 result=0\n"
    assert call.hang_up_server().dropped_digits == "5"


def test_record_file_stops_on_an_escape_digit() -> None:
    call = start_call(CallSpec(caller_talks=True), "wait 3; press #")
    reply = call.command('RECORD FILE /tmp/msg wav "#" 10000 0 s=5')
    assert reply == "200 result=35 (dtmf) endpos=22400\n"
    record = call.hang_up_server()
    assert record.recordings[0].reason == "dtmf"
    assert record.recordings[0].path == "/tmp/msg"


def test_record_file_with_beep_plays_the_beep_first() -> None:
    call = start_call(CallSpec())
    assert call.command("RECORD FILE /tmp/m wav # 1000 BEEP") == "200 result=0 (timeout) endpos=0\n"
    assert call.hang_up_server().played == ["beep"]


def test_say_plays_the_sounds_of_the_value() -> None:
    call = start_call(CallSpec())
    assert call.command('SAY NUMBER 142 ""') == "200 result=0\n"
    assert call.command("SAY DIGITS 07 #") == "200 result=0\n"
    assert call.command("SAY ALPHA ab #") == "200 result=0\n"
    assert call.hang_up_server().played == [
        "digits/1", "digits/hundred", "digits/40", "digits/2",
        "digits/0", "digits/7", "letters/a", "letters/b",
    ]  # fmt: skip


def test_say_is_interrupted_by_an_escape_digit() -> None:
    call = start_call(CallSpec(), "press 9 during SAY DIGITS")
    assert call.command('SAY DIGITS 123456 "9"') == "200 result=57\n"
