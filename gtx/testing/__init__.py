"""An emulated Asterisk for testing FastAGI services without a PBX.

The emulator connects to a FastAGI server exactly like Asterisk's ``AGI(agi://…)`` does and
answers every command as a real Asterisk (the replies are checked byte for byte against
transcripts recorded on a real one). A scripted caller presses keys and hangs up on time.

    from twisted.internet.task import Clock
    from gtx.testing import CallSpec, EmulatedAsterisk, connect_emulated_call

    clock = Clock()
    asterisk = EmulatedAsterisk(clock)
    d = connect_emulated_call(fastagi_factory, CallSpec(caller_number="5551234"),
                              "wait 2; press 1", asterisk=asterisk)
    clock.advance(60)
    record = d.result            # CallRecord: agi_status, variables, played, transcript, …

Main names: :class:`EmulatedAsterisk` (shared state: sounds, AstDB, dial destinations, clock),
:class:`CallSpec` (one call), :class:`ScriptedCaller` (the caller script language),
:func:`connect_emulated_call` (TCP or in memory), :class:`CallRecord` (the outcome),
:func:`render_call` (readable log), :func:`parse_transcript` / :func:`format_transcript`;
for AMI, :class:`EmulatedAMIServer` with its MixMonitor recordings (:class:`MixMonitors`, real
WAV files read back with :func:`read_wav_header`); for ARI, :class:`EmulatedARIServer` (REST and
events over loopback, calls into Stasis with :meth:`EmulatedARIServer.stasis_call`, their
:class:`ARICallRecord`), :func:`run_until` to drive it on a Clock and
:func:`check_against_listings` to check requests against ARI's resource listings.
"""

from gtx.testing.agi_emulator import AGIEmulatorProtocol, CallRecord
from gtx.testing.agi_syntax import parse_args
from gtx.testing.ami_calls import PlacedCall
from gtx.testing.ami_dialplan import DialplanRoutine, DialplanRun, gtx_dialer_answered
from gtx.testing.ami_events import AMIChannel, AMIMessage
from gtx.testing.ami_mixmonitor import ChannelAudio, EmulatedMixMonitor, MixMonitors
from gtx.testing.ami_originate import OriginateParams
from gtx.testing.ami_queues import EmulatedQueue, QueueMember
from gtx.testing.ami_server import AMISession, EmulatedAMIServer
from gtx.testing.ari_drive import NothingLeftToHappen, run_until
from gtx.testing.ari_listings import ARIRequest, check_against_listings
from gtx.testing.ari_model import ARICallRecord, ARIChannel
from gtx.testing.ari_server import EmulatedARIServer
from gtx.testing.call import Recording
from gtx.testing.caller import CallerEvent, CallerScriptError, ScriptedCaller
from gtx.testing.emulator import (
    EmulatedCallFactory,
    MemoryPipe,
    connect_emulated_call,
    connect_in_memory,
)
from gtx.testing.pbx import (
    ASTERISK_VERSION,
    CallSpec,
    DialDestination,
    EmulatedAsterisk,
    QueueBehaviour,
)
from gtx.testing.render import render_call
from gtx.testing.sounds import SAMPLE_RATE, AnySoundCatalogue, SoundCatalogue
from gtx.testing.timeline import InstantTimeline, PacedTimeline
from gtx.testing.transcript import (
    Exchange,
    TranscriptError,
    TranscriptSession,
    format_transcript,
    parse_transcript,
)
from gtx.testing.wav import WavInfo, WavWriter, read_wav_header, wav_header

#: The brief's name for the emulated call protocol.
EmulatedCall = AGIEmulatorProtocol

__all__ = [
    "ASTERISK_VERSION",
    "SAMPLE_RATE",
    "AGIEmulatorProtocol",
    "AMIChannel",
    "AMIMessage",
    "AMISession",
    "ARICallRecord",
    "ARIChannel",
    "ARIRequest",
    "AnySoundCatalogue",
    "CallRecord",
    "CallSpec",
    "CallerEvent",
    "CallerScriptError",
    "ChannelAudio",
    "DialDestination",
    "DialplanRoutine",
    "DialplanRun",
    "EmulatedAMIServer",
    "EmulatedARIServer",
    "EmulatedAsterisk",
    "EmulatedCall",
    "EmulatedCallFactory",
    "EmulatedMixMonitor",
    "EmulatedQueue",
    "Exchange",
    "InstantTimeline",
    "MemoryPipe",
    "MixMonitors",
    "NothingLeftToHappen",
    "OriginateParams",
    "PacedTimeline",
    "PlacedCall",
    "QueueBehaviour",
    "QueueMember",
    "Recording",
    "ScriptedCaller",
    "SoundCatalogue",
    "TranscriptError",
    "TranscriptSession",
    "WavInfo",
    "WavWriter",
    "check_against_listings",
    "connect_emulated_call",
    "connect_in_memory",
    "format_transcript",
    "gtx_dialer_answered",
    "parse_args",
    "parse_transcript",
    "read_wav_header",
    "render_call",
    "run_until",
    "wav_header",
]
