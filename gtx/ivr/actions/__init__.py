"""The IVR actions: one small class per action, validated before any of them runs.

Each action module registers its classes in :data:`REGISTRY` (action name → class).
"""

from gtx.ivr.actions import callback, calls, control, media, read, record, recording
from gtx.ivr.actions.base import (
    FAILED,
    HANGUP,
    INVALID,
    OK,
    REGISTRY,
    SKIPPED,
    TIMEOUT,
    Action,
    ActionOutcome,
    EndSession,
    GotoTarget,
    HandOff,
    RunContext,
    ValidationContext,
)

__all__ = [
    "FAILED",
    "HANGUP",
    "INVALID",
    "OK",
    "REGISTRY",
    "SKIPPED",
    "TIMEOUT",
    "Action",
    "ActionOutcome",
    "EndSession",
    "GotoTarget",
    "HandOff",
    "RunContext",
    "ValidationContext",
    "callback",
    "calls",
    "control",
    "media",
    "read",
    "record",
    "recording",
]
