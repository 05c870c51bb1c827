"""Media on an ARI channel: playbacks, ``say``, DTMF waits, recordings, music on hold.

A playback is ``channels.play`` with a gtx ``playbackId`` (several media URIs in one request
play in order as one playback), then a wait for its ``PlaybackFinished``: state ``failed``
means the file could not be played (``played=False``, as a missing file on FastAGI). A digit of
the escape digits (``ChannelDtmfReceived``) ends the wait at once and stops the playback
(``playbacks.stop``).

Only ``sound:``, ``recording:`` and ``tone:`` media can be stopped (res_stasis_playback's
"controllable" media): ``playbacks.stop`` of a ``number:`` (``digits:``, ``characters:``) being
said answers 500 "Could not stop playback" and the playback goes on — and so would hold up
what gtx does next. So ``say`` builds digits and letters from sound files, and a digit during
a ``number:`` is returned once the number has been said (PlaybackFinished, bounded).

``say`` plays what Asterisk's SAY commands play for English:

========== ===========================================================================
digits     per character ``sound:digits/N``, ``sound:digits/star``, ``sound:digits/pound``
           (as ``ast_say_digit_str``)
number     ``number:VALUE`` (a digit cannot cut it short, see above)
alpha      per character (as ``ast_say_character_str``): ``sound:letters/x`` for a letter
           (either case), ``sound:digits/N`` for a digit, the symbols below; other
           characters are not said
phonetic   per character: ``sound:phonetic/x_p`` for a letter, else as alpha
symbols    ``*`` digits/star, ``#`` digits/pound, ``!`` letters/exclaimation-point (sic),
           ``@`` letters/at, ``$`` letters/dollar, ``-`` letters/dash, ``.`` letters/dot,
           ``=`` letters/equals, ``+`` letters/plus, ``/`` letters/slash, space letters/space
date       like ``SAY DATE`` (``ast_say_date``): ``sound:digits/day-W`` (W: 0 = Sunday),
           ``sound:digits/mon-M`` (M: 0 = January), ``number:DAY``, ``number:YEAR``
time       like ``SAY TIME``: ``number:H`` (1 to 12), then the minutes — nothing on the hour,
           ``sound:digits/oh`` + ``number:M`` below 10, ``number:M`` otherwise — then
           ``sound:digits/a-m`` or ``sound:digits/p-m``
========== ===========================================================================

Date and time are taken in the channel's ``say_timezone`` (UTC unless configured).

``record`` is ``channels.record`` with the name relative to the ARI recording directory,
``ifExists=overwrite`` and ``terminateOn`` from the escape digits (``#``, ``*``, ``any`` when
every digit ends it; for another set, ``none`` and gtx stops the recording itself on one of
those digits). The reason is ``dtmf`` (a terminating digit came), ``hangup``, ``error``
(``RecordingFailed``, or no end in time) or ``timeout`` (maximum length or silence); ``endpos``
is the reported duration times 8000 samples.
"""

from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Final

from twisted.internet.defer import Deferred

from gtx.asterisk.ari_api import AriHTTPError, AriNotFound
from gtx.asterisk.ari_events import Event, playback_key, recording_key
from gtx.asterisk.ari_waits import ChannelWait
from gtx.channel import (
    DTMF_DIGITS,
    ChannelError,
    ChannelHangup,
    CommandFailed,
    PlayResult,
    RecordResult,
)

if TYPE_CHECKING:
    from gtx.asterisk.ari_channel import ARIChannel

#: Samples per second of the positions Asterisk reports (``endpos``).
SAMPLE_RATE: Final = 8000
SAY_KINDS: Final = ("digits", "number", "alpha", "phonetic", "date", "time")
_SYMBOLS: Final = {
    "*": "digits/star", "#": "digits/pound", "!": "letters/exclaimation-point",
    "@": "letters/at", "$": "letters/dollar", "-": "letters/dash", ".": "letters/dot",
    "=": "letters/equals", "+": "letters/plus", "/": "letters/slash", " ": "letters/space",
}
#: A sound file name as gtx plays them: no media separator, no scheme.
_SOUND_FILE: Final = re.compile(r"^[A-Za-z0-9_./-]+$")
_FORMAT: Final = re.compile(r"^[A-Za-z0-9]{1,16}$")
#: The digits whose set ``terminateOn=any`` stands for.
_ANY_DIGIT: Final = frozenset("0123456789*#")


def say_media(kind: str, value: str, zone: tzinfo) -> list[str]:
    """The media URIs that say ``value`` as ``kind`` (see the module docstring)."""
    if kind not in SAY_KINDS:
        raise CommandFailed("say", f"kind must be one of {SAY_KINDS}, got {kind!r}")
    if kind == "digits":
        if not re.fullmatch(r"[0-9*#]+", value):
            raise CommandFailed("say digits", f"not digits: {value!r}")
        return [_character(char, phonetic=False) for char in value]
    if kind in ("alpha", "phonetic"):
        phonetic = kind == "phonetic"
        said = (_character(char, phonetic) for char in value.lower())
        return [media for media in said if media]
    try:
        number = int(value)
    except ValueError:
        raise CommandFailed(f"say {kind}", f"expected an integer, got {value!r}") from None
    if kind == "number":
        return [f"number:{number}"]
    moment = datetime.fromtimestamp(number, zone)
    if kind == "date":
        weekday = (moment.weekday() + 1) % 7  # Asterisk counts from Sunday
        return [f"sound:digits/day-{weekday}", f"sound:digits/mon-{moment.month - 1}",
                f"number:{moment.day}", f"number:{moment.year}"]
    media = [f"number:{moment.hour % 12 or 12}"]
    if moment.minute >= 10:
        media.append(f"number:{moment.minute}")
    elif moment.minute:
        media += ["sound:digits/oh", f"number:{moment.minute}"]
    media.append("sound:digits/a-m" if moment.hour < 12 else "sound:digits/p-m")
    return media


def _character(char: str, phonetic: bool) -> str:
    """The ``sound:`` media of one character ("" when Asterisk says nothing for it)."""
    if "a" <= char <= "z":
        return f"sound:phonetic/{char}_p" if phonetic else f"sound:letters/{char}"
    if "0" <= char <= "9":
        return f"sound:digits/{char}"
    return f"sound:{_SYMBOLS[char]}" if char in _SYMBOLS else ""


# --- playbacks ------------------------------------------------------------------------------


async def play(
    channel: ARIChannel, media: list[str], escape_digits: str
) -> tuple[bool, str | None]:
    """Play ``media`` as one playback; (played, interrupting digit)."""
    channel.require_live("play")
    if escape_digits:
        kept = channel.waits.take_digit(escape_digits)
        if kept is not None:
            return True, kept
    else:
        channel.waits.drop_digits()
    await channel.stop_music()
    playback_id = channel.ids("playback")
    bound = channel.limits.media_timeout

    def no_end() -> tuple[str, str | None]:
        raise CommandFailed("play", f"playback {playback_id} did not finish within {bound:g} s")

    wait: ChannelWait[tuple[str, str | None]] = channel.waits.new(bound, no_end)

    def on_digit(digit: str) -> None:
        if digit in escape_digits:
            wait.succeed(("digit", digit))

    def on_playback(event: Event) -> None:
        if event.get("type") == "PlaybackFinished":
            state = (event.get("playback") or {}).get("state")
            wait.succeed(("failed" if state == "failed" else "done", None))

    wait.on_digit = on_digit
    wait.watch(channel.link.events, playback_key(playback_id), on_playback)
    try:
        await channel.command("channels", "play", channelId=channel.id, media=",".join(media),
                              playbackId=playback_id)
    except BaseException:
        wait.cancel()
        raise
    how, digit = await wait.deferred
    if how == "digit":
        await _stop(channel, playback_id)
    return how != "failed", digit


async def _stop(channel: ARIChannel, playback_id: str) -> None:
    """Stop a playback; one Asterisk cannot stop (``number:`` …) is waited for, bounded."""
    # Watching before the request: its end may come before the answer.
    rest: ChannelWait[None] = channel.waits.new(channel.limits.media_timeout, lambda: None)

    def on_playback(event: Event) -> None:
        if event.get("type") == "PlaybackFinished":
            rest.succeed(None)

    rest.watch(channel.link.events, playback_key(playback_id), on_playback)
    try:
        await channel.call("playbacks", "stop", playbackId=playback_id)
    except AriNotFound:  # it finished meanwhile
        pass
    except AriHTTPError as e:  # 500 "Could not stop playback": it goes on to its end
        channel.log.debug("ARI {channel}: playback {playback} plays on ({error})",
                          channel=channel.info.channel, playback=playback_id, error=e)
        await rest.deferred
        return
    except BaseException:
        rest.cancel()
        raise
    rest.cancel()


async def stream(channel: ARIChannel, file: str, escape_digits: str) -> PlayResult:
    """Play one sound file."""
    if not _SOUND_FILE.match(file):
        raise CommandFailed("play", f"invalid sound file name {file!r}")
    played, digit = await play(channel, [f"sound:{file}"], escape_digits)
    return PlayResult(digit=digit, played=played)


async def say(channel: ARIChannel, kind: str, value: str, escape_digits: str) -> str | None:
    """Say ``value``; the interrupting digit, if any."""
    media = say_media(kind, str(value), channel.say_timezone)
    if not media:
        channel.require_live("say")
        return None
    _, digit = await play(channel, media, escape_digits)
    return digit


async def wait_for_digit(channel: ARIChannel, timeout: float) -> str | None:
    """One digit within ``timeout`` seconds, or None."""
    channel.require_live("wait_for_digit")
    kept = channel.waits.take_digit(DTMF_DIGITS)
    if kept is not None or timeout <= 0:
        return kept
    wait: ChannelWait[str | None] = channel.waits.new(timeout, lambda: None)
    wait.on_digit = wait.succeed
    return await wait.deferred


async def pause(channel: ARIChannel, seconds: float) -> None:
    """Let ``seconds`` pass on the clock; ChannelHangup if the caller hangs up meanwhile."""
    wait: ChannelWait[None] = channel.waits.new(seconds, lambda: None, on_digit=lambda _: None)
    await wait.deferred


async def wait(channel: ARIChannel, seconds: float) -> None:
    """The ``wait`` of the channel: silence (or the music left on)."""
    channel.require_live("wait")
    channel.waits.drop_digits()
    await pause(channel, seconds)


async def music_on_hold(channel: ARIChannel, moh_class: str | None, seconds: float | None) -> None:
    """startMoh; after ``seconds``, stopMoh (without: left on, see ARIChannel)."""
    if moh_class:
        channel.dialplan_name(moh_class, "music class")
    channel.require_live("music_on_hold")
    channel.waits.drop_digits()
    await channel.stop_music()
    params: dict[str, Any] = {"channelId": channel.id}
    if moh_class:
        params["mohClass"] = moh_class
    await channel.command("channels", "startMoh", **params)
    if seconds is None:
        channel.music_started()
        return
    await pause(channel, seconds)
    await channel.command("channels", "stopMoh", channelId=channel.id)


# --- recordings ----------------------------------------------------------------------------


def recording_name(recording_dir: str, path: str) -> str:
    """The ARI name of a recording at ``path`` (no extension): relative to ``recording_dir``,
    Asterisk's recording spool; a path outside it is refused with CommandFailed."""
    base = recording_dir.rstrip("/")
    full = posixpath.normpath(path if path.startswith("/") else posixpath.join(base, path))
    if not full.startswith(base + "/"):
        raise CommandFailed("record", f"{path!r} is outside the ARI recording directory "
                            f"{recording_dir} (ari_recording_dir)")
    return full[len(base) + 1:]


def terminate_on(escape_digits: str) -> tuple[str, bool]:
    """ARI's ``terminateOn`` for ``escape_digits``, and whether gtx must stop the recording
    itself (ARI knows only none, any, ``*`` and ``#``)."""
    digits = set(escape_digits)
    if not digits:
        return "none", False
    if escape_digits in ("#", "*"):
        return escape_digits, False
    if digits >= _ANY_DIGIT:
        return "any", False
    return "none", True


@dataclass
class _Recording:
    digit: str | None = None
    hung_up: bool = False
    duration: float | None = None
    started: float | None = None
    ended: float | None = None  # when the caller hung up


async def record(
    channel: ARIChannel,
    path: str,
    fmt: str,
    escape_digits: str,
    max_seconds: float | None,
    silence_seconds: int | None,
    beep: bool,
) -> RecordResult:
    """Record the caller (see the module docstring)."""
    channel.require_live("record")
    name = recording_name(channel.recording_dir, path)
    if not _FORMAT.match(fmt):
        raise CommandFailed("record", f"invalid format {fmt!r}")
    if any(digit not in DTMF_DIGITS for digit in escape_digits):
        raise CommandFailed("record", f"not DTMF digits: {escape_digits!r}")
    channel.waits.drop_digits()
    await channel.stop_music()
    terminate, stop_ourselves = terminate_on(escape_digits)
    seen = _Recording()
    asked = channel.clock.seconds()
    limits = channel.limits
    bound = (max_seconds + limits.media_timeout) if max_seconds else limits.application_timeout
    wait: ChannelWait[str] = channel.waits.new(bound, lambda: "lost")

    def on_digit(digit: str) -> None:
        if digit in escape_digits and seen.digit is None:
            seen.digit = digit
            if stop_ourselves:
                _stop_recording(channel, name)

    def on_hangup(error: ChannelHangup) -> None:
        seen.hung_up = True
        seen.ended = channel.clock.seconds()
        wait.rearm(limits.hangup_grace, lambda: "hangup")

    def on_recording(event: Event) -> None:
        kind = event.get("type")
        if kind == "RecordingStarted":
            seen.started = channel.clock.seconds()
        elif kind in ("RecordingFinished", "RecordingFailed"):
            duration = (event.get("recording") or {}).get("duration")
            if isinstance(duration, int | float):
                seen.duration = float(duration)
            wait.succeed("done" if kind == "RecordingFinished" else "failed")

    wait.on_digit, wait.on_hangup = on_digit, on_hangup
    wait.watch(channel.link.events, recording_key(name), on_recording)
    params = _record_params(channel.id, name, fmt, terminate, max_seconds, silence_seconds,
                            beep)
    try:
        await channel.command("channels", "record", **params)
    except BaseException:
        wait.cancel()
        raise
    how = await wait.deferred
    if how == "lost":
        _stop_recording(channel, name)
    if seen.duration is None:
        ended = seen.ended if seen.ended is not None else channel.clock.seconds()
        seen.duration = max(0.0, ended - (seen.started or asked))
    return _record_result(how, seen, channel.hung_up)


def _record_params(channel_id: str, name: str, fmt: str, terminate: str,
                   max_seconds: float | None, silence_seconds: int | None,
                   beep: bool) -> dict[str, Any]:
    params: dict[str, Any] = {
        "channelId": channel_id, "name": name, "format": fmt, "ifExists": "overwrite",
        "beep": bool(beep), "terminateOn": terminate,
    }
    if max_seconds:
        params["maxDurationSeconds"] = max(1, math.ceil(max_seconds))
    if silence_seconds:
        params["maxSilenceSeconds"] = int(silence_seconds)
    return params


def _record_result(how: str, seen: _Recording, hung_up: bool) -> RecordResult:
    """How a recording ended: ``how`` is done, failed, hangup or lost (no end in time)."""
    endpos = round((seen.duration or 0.0) * SAMPLE_RATE)
    if seen.hung_up or hung_up:
        return RecordResult(reason="hangup", digit=None, endpos=endpos)
    if how != "done":
        return RecordResult(reason="error", digit=None, endpos=0)
    if seen.digit is not None:
        return RecordResult(reason="dtmf", digit=seen.digit, endpos=endpos)
    return RecordResult(reason="timeout", digit=None, endpos=endpos)


def _stop_recording(channel: ARIChannel, name: str) -> None:
    """Stop a live recording without waiting (its end comes as RecordingFinished)."""

    async def stop() -> None:
        try:
            await channel.call("recordings", "stop", recordingName=name)
        except (AriHTTPError, ChannelError) as e:
            channel.log.info("ARI: stopping recording {name}: {error}", name=name, error=e)

    Deferred.fromCoroutine(stop())
