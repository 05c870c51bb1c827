"""The Recorder API's XML-RPC methods: ``recorder.*`` (docs/recorder-api.md).

Each handler validates its arguments (:mod:`gtx.recorder.validate`: a fault 400 names the bad
field), calls the :class:`~gtx.recorder.service.RecorderService` it was given, and answers with
the recording struct of :func:`recording_struct`. The service's :mod:`gtx.errors`
(``NotFound``, ``Conflict``) become faults unchanged. Who may call what is checked before a
handler runs (:mod:`gtx.xmlrpc.auth`: the ``recorder`` and ``admin`` roles)::

    register_recorder_api(resource, recorder, signer, RecordingDirectory(settings.dir),
                          configured_from(config))
"""

from __future__ import annotations

from typing import Final

from gtx.dialer.structs import Struct, iso
from gtx.dialer.validate_call import NOTHING, Configured
from gtx.errors import Conflict, InvalidArgument
from gtx.recorder import validate as v
from gtx.recorder.model import Recording, RecordingOptions, RecordingState, RecordingTarget
from gtx.recorder.service import RecorderService
from gtx.recorder.urls import RecordingDirectory, UrlSigner
from gtx.xmlrpc.auth import ANONYMOUS
from gtx.xmlrpc.server import CallContext, XMLRPCResource, xmlrpc_method

__all__ = ["RecorderMethods", "recording_struct", "register_recorder_api"]

_RECORDING: Final = (
    "the recording struct {recording_id, state, files, started, ended, duration, size, "
    "target, options, metadata, started_by, channel, asterisk, error, reachable}"
)


def register_recorder_api(
    resource: XMLRPCResource,
    service: RecorderService,
    signer: UrlSigner,
    directory: RecordingDirectory,
    configured: Configured = NOTHING,
) -> None:
    """Register every Recorder API method on ``resource``."""
    resource.put_sub_handler("recorder", RecorderMethods(service, signer, directory,
                                                         configured))


def _present(**members: object) -> Struct:
    return {key: value for key, value in members.items() if value is not None}


def target_struct(target: RecordingTarget) -> Struct:
    """What is recorded, in the form ``recorder.start`` accepts."""
    return _present(call_id=target.call_id, session=target.session, channel=target.channel,
                    uniqueid=target.uniqueid, asterisk=target.asterisk)


def options_struct(options: RecordingOptions) -> Struct:
    """How it is recorded, in the form ``recorder.start`` accepts (metadata apart)."""
    return _present(
        format=options.format,
        split=options.split,
        beep=options.beep if options.beep is not None else False,
        max_seconds=options.max_seconds,
        name=options.name,
        callback=None if options.callback_url is None else {
            "url": options.callback_url, "method": options.callback_method or ""},
    )


def recording_struct(recording: Recording, reachable: bool) -> Struct:
    """A recording as every ``recorder.*`` method answers it; a member with no value is left
    out. ``reachable`` says whether gtx can read the files (and so serve them)."""
    return _present(
        recording_id=recording.recording_id,
        state=recording.state.value,
        files=list(recording.files),
        started=iso(recording.started),
        ended=None if recording.ended is None else iso(recording.ended),
        duration=None if recording.duration is None else float(recording.duration),
        size=recording.size,
        target=target_struct(recording.target),
        options=options_struct(recording.options),
        metadata=dict(recording.options.metadata),
        started_by=recording.started_by,
        channel=recording.channel,
        asterisk=recording.asterisk,
        node=recording.node,
        campaign_id=recording.campaign_id,
        error=recording.error,
        reachable=reachable,
    )


class RecorderMethods:
    """``recorder.start``, ``stop``, ``pause``, ``resume``, ``get``, ``list``, ``delete``,
    ``url``."""

    def __init__(self, service: RecorderService, signer: UrlSigner,
                 directory: RecordingDirectory, configured: Configured = NOTHING) -> None:
        self._service = service
        self._signer = signer
        self._directory = directory
        self._configured = configured

    def _struct(self, recording: Recording) -> Struct:
        return recording_struct(recording, self._directory.reachable(recording))

    @xmlrpc_method(
        signature=[["struct", "struct"], ["struct", "struct", "struct"]],
        help="Start recording a live channel: start({call_id} | {session} | {channel} | "
             "{uniqueid} (+ asterisk), {format, split, beep, max_seconds, name, callback, "
             f"metadata}}) -> {_RECORDING}, in state recording.",
    )
    async def start(self, ctx: CallContext, target: object, options: object = None) -> Struct:
        what, how = v.start_arguments(target, options, self._configured)
        recording = await self._service.start(what, how, ctx.user or ANONYMOUS)
        return self._struct(recording)

    @xmlrpc_method(
        signature=[["struct", "string"]],
        help="Stop a recording (recording or paused): its files are closed, then checked "
             "(state stopped, then ready with size and duration). -> the recording struct.",
    )
    async def stop(self, ctx: CallContext, recording_id: object) -> Struct:
        return self._struct(await self._service.stop(v.recording_id(recording_id)))

    @xmlrpc_method(
        signature=[["struct", "string"], ["struct", "string", "struct"]],
        help="Pause a recording: pause(recording_id, {mode}). mode silence (the default): "
             "silence is written meanwhile, so the file keeps the call's length; gap: nothing "
             "is written, the file is shorter (only on a server recorded over ARI). -> the "
             "recording struct, in state paused.",
    )
    async def pause(self, ctx: CallContext, recording_id: object,
                    options: object = None) -> Struct:
        rid = v.recording_id(recording_id)
        return self._struct(await self._service.pause(rid, v.pause_options(options)))

    @xmlrpc_method(
        signature=[["struct", "string"]],
        help="Resume a paused recording (either mode). -> the recording struct, in state "
             "recording.",
    )
    async def resume(self, ctx: CallContext, recording_id: object) -> Struct:
        return self._struct(await self._service.resume(v.recording_id(recording_id)))

    @xmlrpc_method(signature=[["struct", "string"]], help=f"A recording: -> {_RECORDING}.")
    async def get(self, ctx: CallContext, recording_id: object) -> Struct:
        return self._struct(await self._service.get(v.recording_id(recording_id)))

    @xmlrpc_method(
        name="list",
        signature=[["struct"], ["struct", "struct"]],
        help=f"A page of recordings, newest first: list({{since, until, call_id, "
             f"campaign_id, session, state, after, limit}}) -> {{recordings: [recording "
             f"struct], next}}; pass next as after for the following page (no next: the last "
             f"page). limit: 1 to {v.MAX_PAGE}, default {v.DEFAULT_PAGE}.",
    )
    async def list_recordings(self, ctx: CallContext, query: object = None) -> Struct:
        recordings, following = await self._service.list(v.recording_filter(query))
        page: Struct = {"recordings": [self._struct(r) for r in recordings]}
        if following is not None:
            page["next"] = following
        return page

    @xmlrpc_method(
        signature=[["boolean", "string"]],
        help="Delete a recording that is not running: its files go, its record stays in "
             "state deleted. -> true",
    )
    async def delete(self, ctx: CallContext, recording_id: object) -> bool:
        await self._service.delete(v.recording_id(recording_id))
        return True

    @xmlrpc_method(
        signature=[["string", "string"], ["string", "string", "struct"]],
        help="A signed URL that downloads a file of a recording (HTTP ranges supported) "
             "until it expires: url(recording_id, {file, ttl}) -> string. file: one of the "
             "recording's file names (default: the first, the mixed one); ttl: seconds "
             "(default [recorder] url_ttl, at most that).",
    )
    async def url(self, ctx: CallContext, recording_id: object, options: object = None) -> str:
        rid = v.recording_id(recording_id)
        chosen = v.url_options(options, self._signer.ttl)
        recording = await self._service.get(rid)
        if recording.state is RecordingState.DELETED:
            raise Conflict(f"recording {rid} is deleted: its files are gone")
        names = v.known_names(recording.files)
        if not names:
            raise Conflict(f"recording {rid} has no file")
        name = next(iter(names)) if chosen.file is None else chosen.file
        if name not in names:
            raise InvalidArgument("options.file", f"{name!r} is not a file of recording "
                                  f"{rid}; its files: {', '.join(names)}")
        if not self._directory.reachable(recording):
            raise Conflict(f"recording {rid}: its files are not reachable from this gtx node "
                           "(see reachable in recorder.get, and the file layouts in the docs)")
        return self._signer.url(rid, name, chosen.ttl)
