"""The campaign option ``record``: a recording started on every answered call, or on a sample.

``record: true`` records every answered call of the campaign; ``record: {percent: P}`` records
P % of them. Whether a call is in the sample is decided from its call id alone
(:func:`sampled`), so a node restarting, or another node taking the call over, decides the same.
The recording is started through the Recorder API's service (target ``{call_id}``,
``started_by`` ``dialer:<campaign_id>``) before the call's ``answered`` event is published, and
its id is stored with the call: ``dialer.call_status``, ``dialer.campaign.results`` and every
later call-back event carry ``recording_id``. A recording that cannot be started is logged; the
call goes on unrecorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from twisted.logger import Logger

from gtx.dialer.model import Call, CampaignSpec
from gtx.errors import ApiError
from gtx.recorder.model import RecordingOptions, RecordingTarget
from gtx.recorder.service import RecorderService

#: Finds the spec of a campaign (None when it is gone).
CampaignSpecs = Callable[[int], Awaitable[CampaignSpec | None]]


def sampled(call_id: str, percent: float) -> bool:
    """Whether the call is among the ``percent`` % recorded: the same answer for the same id
    on every node and after every restart."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:4], "big") % 10_000
    return bucket < round(percent * 100)


class CallRecordings:
    """Starts the recordings of answered campaign calls (see the module docstring)."""

    def __init__(self, recorder: RecorderService, specs: CampaignSpecs, log: Logger) -> None:
        self.recorder = recorder
        self.specs = specs
        self.log = log

    async def start(self, call: Call) -> str | None:
        """Record ``call`` (just answered) when its campaign asks for it; the recording id,
        or None (not recorded: no option, not in the sample, or the recorder failed)."""
        if call.campaign_id is None or call.recording_id is not None:
            return call.recording_id
        try:
            spec = await self.specs(call.campaign_id)
            if spec is None or not sampled(call.call_id, spec.record):
                return None
            recording = await self.recorder.start(
                RecordingTarget(call_id=call.call_id, asterisk=call.asterisk),
                RecordingOptions(metadata={"campaign_id": call.campaign_id,
                                           "contact_id": call.contact_id or 0,
                                           "number": call.request.destination}),
                started_by=f"dialer:{call.campaign_id}",
            )
        except ApiError as e:
            self.log.warn("[{call_id}] not recorded: {why}", call_id=call.call_id,
                          why=e.message)
            return None
        except Exception:
            self.log.failure("[{call_id}] not recorded: the recorder failed",
                             call_id=call.call_id)
            return None
        self.log.info("[{call_id}] recording {recording_id}", call_id=call.call_id,
                      recording_id=recording.recording_id)
        return recording.recording_id
