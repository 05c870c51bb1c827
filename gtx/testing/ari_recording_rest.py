"""REST operations on recordings of the emulated ARI server: ``channels.record``, live
recordings (``recordings/live``: get, stop, cancel, pause, mute) and stored ones
(``recordings/stored``: list, get, file, copy, delete). What they do is
:mod:`gtx.testing.ari_recording`'s; the answers and messages are Asterisk's
(resource_channels.c, resource_recordings.c).
"""

from __future__ import annotations

import shutil

from gtx.testing.ari_model import ARIFault, Handler, Reply, RestCall
from gtx.testing.ari_recording import FORMATS, LiveRecording

# -- REST --------------------------------------------------------------------------------------


def _record(call: RestCall) -> Reply:
    max_duration, max_silence = call.get("maxDurationSeconds", 0), call.get("maxSilenceSeconds", 0)
    if max_duration < 0:
        raise ARIFault(400, "max_duration_seconds cannot be negative")
    if max_silence < 0:
        raise ARIFault(400, "max_silence_seconds cannot be negative")
    channel = call.controlled()
    terminate_on = call.get("terminateOn") or "none"
    if_exists = call.get("ifExists") or "fail"
    fmt = call.get("format")
    if fmt not in FORMATS:
        raise ARIFault(422, "specified format is unknown on this system")
    recording = call.server.recordings.start(
        channel, call.get("name"), fmt, max_duration=max_duration, max_silence=max_silence,
        terminate_on=terminate_on, if_exists=if_exists, beep=bool(call.get("beep")))
    body = recording.to_json()
    body["state"] = "queued"
    return 201, body


def _live(call: RestCall) -> LiveRecording:
    recording = call.server.recordings.live.get(str(call.get("recordingName")))
    if recording is None:
        raise ARIFault(404, "Recording not found")
    return recording


def _get_live(call: RestCall) -> Reply:
    return 200, _live(call).to_json()


def _stop(state: str) -> Handler:
    def handler(call: RestCall) -> Reply:
        call.server.recordings.stop(_live(call), state)
        return 204, None

    return handler


def _pause(paused: bool) -> Handler:
    def handler(call: RestCall) -> Reply:
        recording = _live(call)
        if recording.state not in ("recording", "paused"):
            raise ARIFault(409, "Recording not in session")
        call.server.recordings.pause(recording, paused)
        return 204, None

    return handler


def _mute(muted: bool) -> Handler:
    def handler(call: RestCall) -> Reply:
        recording = _live(call)
        if recording.state not in ("recording", "paused"):
            raise ARIFault(409, "Recording not in session")
        call.server.recordings.mute(recording, muted)
        return 204, None

    return handler


def _list_stored(call: RestCall) -> Reply:
    return 200, [{"name": name, "format": fmt} for name, fmt, _ in
                 call.server.recordings.stored()]


def _get_stored(call: RestCall) -> Reply:
    name = str(call.get("recordingName"))
    fmt, _ = call.server.recordings.find_stored(name)
    return 200, {"name": name, "format": fmt}


def _delete_stored(call: RestCall) -> Reply:
    _, path = call.server.recordings.find_stored(str(call.get("recordingName")))
    path.unlink()
    return 204, None


def _stored_file(call: RestCall) -> Reply:
    _, path = call.server.recordings.find_stored(str(call.get("recordingName")))
    return 200, path.read_bytes()


def _copy_stored(call: RestCall) -> Reply:
    recordings = call.server.recordings
    fmt, path = recordings.find_stored(str(call.get("recordingName")))
    destination = str(call.get("destinationRecordingName"))
    target = recordings.path_of(destination, fmt)
    if target.exists():
        raise ARIFault(409, "A recording with the same name already exists on the system")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return 200, {"name": destination, "format": fmt}


HANDLERS: dict[str, Handler] = {
    "channels.record": _record,
    "recordings.getLive": _get_live,
    "recordings.stop": _stop("done"),
    "recordings.cancel": _stop("canceled"),
    "recordings.pause": _pause(True),
    "recordings.unpause": _pause(False),
    "recordings.mute": _mute(True),
    "recordings.unmute": _mute(False),
    "recordings.listStored": _list_stored,
    "recordings.getStored": _get_stored,
    "recordings.deleteStored": _delete_stored,
    "recordings.getStoredFile": _stored_file,
    "recordings.copyStored": _copy_stored,
}
