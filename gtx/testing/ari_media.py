"""Playbacks on the emulated ARI server, and the other media operations on a channel.

``channels.play`` queues a playback (``201`` with state ``queued``); a channel plays its
playbacks one after the other. Each media of a playback sends ``PlaybackStarted`` as it starts
and, when another media follows, ``PlaybackContinuing`` as it ends; the last one ends with
``PlaybackFinished`` state ``done``. Media and how long they last:

- ``sound:NAME`` — the sound catalogue's length; ``played`` gets ``NAME``;
- ``digits:123``, ``number:42``, ``characters:ab`` — the files Asterisk says them with
  (``digits/1``…, ``digits/40 digits/2``, ``letters/a``…), one after the other, each appended
  to ``played`` as it starts, as the FastAGI emulator's SAY commands do (a playback stopped
  half-way has only the files it reached);
- ``recording:NAME`` — a stored recording, as long as its file; ``played`` gets the URI;
- ``tone:…`` — plays until stopped; ``played`` gets the URI.

A sound that does not exist (or a scheme the emulator does not know) fails at once:
``PlaybackStarted`` then ``PlaybackFinished`` state ``failed``, as res_stasis_playback reports a
failed stream; the playback ends there (a real Asterisk would go on with its next media).
``playbacks.stop`` (``DELETE /playbacks/{id}``) ends a playing one with ``PlaybackFinished``
state ``done`` (res_stasis_playback's "stopped" is reported as done) and drops a queued one
silently — but only ``sound:``, ``recording:`` and ``tone:`` media can be stopped (they are
"controllable"): one playing ``digits:``, ``number:`` or ``characters:`` answers 500 ``Could
not stop playback`` and plays on. A hang-up ends the playing one with state ``failed``;
leaving Stasis with ``done``. DTMF never stops a playback: the application decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gtx.testing.ari_model import JSON, ARIChannel, ARIFault, Handler, Reply, RestCall, event
from gtx.testing.call import character_files, number_files
from gtx.testing.timeline import Scheduled

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gtx.testing.ari_server import EmulatedARIServer


#: The media schemes a playback can be stopped (or controlled) in (res_stasis_playback.c).
CONTROLLABLE = frozenset({"sound", "recording", "tone"})


@dataclass(eq=False)
class Playback:
    """One ``channels.play``: its media, in order, and where it is."""

    id: str
    channel: ARIChannel
    media: list[str]
    language: str
    offset: float = 0.0  # seconds skipped at the start of the first media
    index: int = 0
    state: str = "queued"
    timer: Scheduled | None = field(default=None, repr=False)

    def to_json(self) -> JSON:
        """The Playback model."""
        body: JSON = {"id": self.id, "media_uri": self.media[self.index]}
        if self.index + 1 < len(self.media):
            body["next_media_uri"] = self.media[self.index + 1]
        body.update(target_uri=f"channel:{self.channel.id}", language=self.language,
                    state=self.state)
        return body


class ARIMedia:
    """The playbacks of one server (``server.media``)."""

    def __init__(self, server: EmulatedARIServer) -> None:
        self.server = server
        #: Playbacks queued or playing, by id.
        self.playbacks: dict[str, Playback] = {}

    def play(self, channel: ARIChannel, media: list[str], language: str, playback_id: str,
             offset: float = 0.0) -> Playback:
        """Queue a playback on ``channel`` (it starts at once when nothing plays)."""
        if playback_id in self.playbacks:
            raise ARIFault(500, "Failed to queue media for playback")
        playback = Playback(playback_id, channel, media, language, offset)
        self.playbacks[playback_id] = playback
        channel.playbacks.append(playback)
        if len(channel.playbacks) == 1:
            self._start_media(playback)
        return playback

    def _start_media(self, playback: Playback) -> None:
        channel = playback.channel
        self.server.recordings.flush_all()  # what recordings hear changes now
        playback.state = "playing"
        self._emit(playback, "PlaybackStarted")
        uri = playback.media[playback.index]
        files = self._plan(uri)
        channel.media.note("media", f"plays {uri}")
        if files is None:
            channel.media.note("media", f"missing media {uri}")
            self._finish(playback, "failed")
            return
        offset = playback.offset if playback.index == 0 else 0.0
        self._play_file(playback, files, 0, offset)
        self.server.recordings.changed()

    def _play_file(self, playback: Playback, files: list[tuple[str, float | None]],
                   index: int, offset: float = 0.0) -> None:
        """One file of a media after the other: ``played`` gets each as it starts."""
        playback.timer = None
        if index == len(files):
            self._media_ends(playback)
            return
        name, seconds = files[index]
        playback.channel.media.played.append(name)
        if seconds is not None:  # None: plays until stopped
            playback.timer = playback.channel.later(
                max(seconds - offset, 0.0), lambda: self._play_file(playback, files, index + 1))

    def _plan(self, uri: str) -> list[tuple[str, float | None]] | None:
        """The files of a media with their lengths (None: until stopped), what ``played``
        gets for each; None when it cannot play."""
        scheme, _, what = uri.partition(":")
        sounds = self.server.asterisk.sounds
        if scheme == "sound":
            seconds = sounds.seconds(what)
            return [(what, seconds)] if seconds is not None else None
        if scheme in ("digits", "number", "characters"):
            if scheme == "number":
                try:
                    names = number_files(int(what))
                except ValueError:
                    return None
            else:
                names = character_files(what)
            return [(name, sounds.seconds(name) or 0.0) for name in names]
        if scheme == "tone" and what:
            return [(uri, None)]
        if scheme == "recording":
            seconds = self.server.recordings.stored_seconds(what)
            return [(uri, seconds)] if seconds is not None else None
        return None

    def _media_ends(self, playback: Playback) -> None:
        if playback.index + 1 < len(playback.media):
            playback.state = "continuing"
            self._emit(playback, "PlaybackContinuing")
            playback.index += 1
            self._start_media(playback)
        else:
            self._finish(playback, "done")

    def _finish(self, playback: Playback, state: str, apps: Iterable[str] | None = None,
                next_one: bool = True) -> None:
        channel = playback.channel
        self.server.recordings.flush_all()
        if playback.timer is not None:
            playback.timer.cancel()
            playback.timer = None
        playback.state = state
        self._emit(playback, "PlaybackFinished", apps)
        self.playbacks.pop(playback.id, None)
        if playback in channel.playbacks:
            channel.playbacks.remove(playback)
        if next_one and channel.playbacks:
            self._start_media(channel.playbacks[0])
        else:
            self.server.recordings.changed()

    def stop(self, playback: Playback) -> None:
        """``playbacks.stop`` (see the module docstring)."""
        channel = playback.channel
        if playback.state == "queued":
            channel.playbacks.remove(playback)
            self.playbacks.pop(playback.id, None)
            return
        scheme = playback.media[playback.index].partition(":")[0]
        if scheme not in CONTROLLABLE:
            channel.media.note("media", f"playback {playback.id} cannot be stopped ({scheme}:)")
            raise ARIFault(500, "Could not stop playback")
        channel.media.note("media", f"playback {playback.id} stopped")
        self._finish(playback, "done")

    def stop_all(self, channel: ARIChannel, state: str, apps: Iterable[str] | None = None) -> None:
        """End what plays on ``channel`` with ``state`` and drop what is queued."""
        queued = channel.playbacks[1:]
        for playback in queued:
            channel.playbacks.remove(playback)
            self.playbacks.pop(playback.id, None)
        if channel.playbacks:
            self._finish(channel.playbacks[0], state, apps, next_one=False)

    def playing(self, channel: ARIChannel) -> bool:
        """Whether something plays to ``channel`` now (recordings hear it)."""
        return bool(channel.playbacks) and channel.playbacks[0].state == "playing"

    def _emit(self, playback: Playback, kind: str, apps: Iterable[str] | None = None) -> None:
        channel = playback.channel
        self.server.calls.emit(channel, event(kind, self.server.calls.ts(channel),
                                              ("playback", playback.to_json())), apps)


# -- REST --------------------------------------------------------------------------------------


def _play(call: RestCall) -> Reply:
    channel = call.live()
    offset = int(call.get("offsetms", 0))
    if int(call.get("skipms", 3000)) < 0:
        raise ARIFault(400, "skipms cannot be negative")
    if offset < 0:
        raise ARIFault(400, "offsetms cannot be negative")
    media = list(call.get("media"))
    if not media:
        raise ARIFault(400, "Required parameter 'media' not provided.")
    playback_id = call.get("playbackId") or call.server.new_id("playback-")
    language = call.get("lang") or channel.media.language
    playback = call.server.media.play(channel, media, language, playback_id, offset / 1000)
    body = playback.to_json()
    body["state"] = "queued"  # the answer is built before the playback starts
    return 201, body


def _playback(call: RestCall) -> Playback:
    playback = call.server.media.playbacks.get(str(call.get("playbackId")))
    if playback is None:
        raise ARIFault(404, "Playback not found")
    return playback


def _get_playback(call: RestCall) -> Reply:
    return 200, _playback(call).to_json()


def _stop_playback(call: RestCall) -> Reply:
    call.server.media.stop(_playback(call))
    return 204, None


def _send_dtmf(call: RestCall) -> Reply:
    channel = call.live()
    digits = call.get("dtmf") or ""
    if not digits:
        raise ARIFault(400, "DTMF is required")
    channel.media.note("media", f"sends DTMF {digits}")
    channel.media.dtmf_sent.extend(d for d in digits if d not in ",wW")
    return 204, None


def _start_moh(call: RestCall) -> Reply:
    channel = call.live()
    channel.moh = call.get("mohClass") or "default"
    channel.media.moh_class = channel.moh
    channel.media.note("media", f"music on hold ({channel.moh})")
    return 204, None


def _stop_moh(call: RestCall) -> Reply:
    channel = call.live()
    channel.moh = channel.media.moh_class = None
    return 204, None


def _flag(attribute: str, value: Any) -> Handler:
    def handler(call: RestCall) -> Reply:
        channel = call.live()
        setattr(channel, attribute, value)
        channel.media.note("media", f"{call.nickname}")
        return 204, None

    return handler


def _mute(muted: bool) -> Handler:
    def handler(call: RestCall) -> Reply:
        channel = call.live()
        direction = call.get("direction") or ""
        if not direction:
            raise ARIFault(400, "Direction is required")
        if direction not in ("in", "out", "both"):
            raise ARIFault(400, "Invalid direction specified")
        channel.muted = direction if muted else ""
        return 204, None

    return handler


def _ring(call: RestCall) -> Reply:
    channel = call.live()
    channel.media.note("media", "ringing" if call.nickname == "ring" else "stops ringing")
    return 204, None


HANDLERS: dict[str, Handler] = {
    "channels.play": _play,
    "channels.playWithId": _play,
    "playbacks.get": _get_playback,
    "playbacks.stop": _stop_playback,
    "channels.sendDTMF": _send_dtmf,
    "channels.startMoh": _start_moh,
    "channels.stopMoh": _stop_moh,
    "channels.startSilence": _flag("silence", True),
    "channels.stopSilence": _flag("silence", False),
    "channels.hold": _flag("on_hold", True),
    "channels.unhold": _flag("on_hold", False),
    "channels.mute": _mute(True),
    "channels.unmute": _mute(False),
    "channels.ring": _ring,
    "channels.ringStop": _ring,
}
