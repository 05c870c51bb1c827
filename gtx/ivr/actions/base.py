"""What every action shares: validation context, run context, outcome and the registry."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Self, TypeVar

from twisted.internet.interfaces import IReactorTime

from gtx.channel import Channel
from gtx.ivr.app import CallbackScheduler, IvrApp, SessionRecorder
from gtx.ivr.fields import NAME_RE, Fields
from gtx.ivr.state import Target

#: Action statuses (see docs/ivr-api.md).
OK = "ok"
TIMEOUT = "timeout"
INVALID = "invalid"
FAILED = "failed"
HANGUP = "hangup"
SKIPPED = "skipped"

#: Keys of a step result that an action's ``name`` may not take.
RESERVED_NAMES = frozenset({"status", "actions", "digits"})


@dataclass(frozen=True)
class ValidationContext:
    """What validation needs to know beyond the response itself."""

    step: int
    app: IvrApp  # the app driving the session: exec allow-list, record_dir
    url: str  # the url of the current web service (a bare method name in `goto` uses it)
    apps: Mapping[str, IvrApp]  # configured apps, for `goto {app}`


@dataclass(frozen=True)
class RunContext:
    """What an action may need while it runs."""

    session: str
    step: int
    app: IvrApp
    clock: IReactorTime
    scheduler: CallbackScheduler | None = None  # None: no dialer here, `callback` fails
    recorder: SessionRecorder | None = None  # None: no recorder here, `record_*` actions fail


@dataclass(frozen=True)
class EndSession:
    """The action ends the session: hang up (with an optional cause) or return to the dialplan."""

    hangup: bool
    cause: int | None = None


@dataclass(frozen=True)
class GotoTarget:
    """The action sends the next step to another method (overrides the response's ``next``)."""

    target: Target


@dataclass(frozen=True)
class HandOff:
    """The action hands the call to another Asterisk server (a ``transfer`` with ``dial``): the
    session runs the hand-off itself, since it alone knows the state to carry."""

    destination: str  # IAX2/… or PJSIP/…
    timeout: int  # seconds of ringing


Effect = EndSession | GotoTarget | HandOff


@dataclass
class ActionOutcome:
    """One action's outcome: its status, its result fields and what it does to the session."""

    status: str = OK
    fields: dict[str, object] = field(default_factory=dict)
    effect: Effect | None = None


class Action(ABC):
    """One validated action of a response. Subclasses set ``kind`` and ``parameters``."""

    kind: ClassVar[str]
    #: The parameters the action accepts besides ``action`` and ``name``.
    parameters: ClassVar[tuple[str, ...]] = ()
    #: True for actions that end the step and so must be the last of the response.
    must_be_last: ClassVar[bool] = False

    name: str | None = None

    @classmethod
    def validate(cls, fields: Fields, ctx: ValidationContext) -> Self:
        """Check the parameters (unknown ones are refused) and build the action."""
        fields.only((*cls.parameters, "action", "name"))
        name = fields.optional_string("name", pattern=NAME_RE, expected="a name (letters, "
                                      "digits and _, not starting with a digit)")
        if name in RESERVED_NAMES:
            raise fields.error("name", f"{name!r} is reserved: it is a key of every result")
        action = cls.from_struct(fields, ctx)
        # Every action is a frozen dataclass with a `name` field.
        return dataclasses.replace(action, name=name)  # type: ignore[type-var]

    @classmethod
    @abstractmethod
    def from_struct(cls, fields: Fields, ctx: ValidationContext) -> Self:
        """Build the action from its (already key-checked) parameters."""

    @abstractmethod
    async def run(self, channel: Channel, ctx: RunContext) -> ActionOutcome:
        """Run the action. A hang-up raises ChannelHangup; other channel errors are reported
        as status ``failed``."""


A = TypeVar("A", bound=type[Action])

#: action name → class; filled by the modules of this package.
REGISTRY: dict[str, type[Action]] = {}


def register(cls: A) -> A:
    """Class decorator: make an action known under its ``kind``."""
    REGISTRY[cls.kind] = cls
    return cls
