"""Queues of agents in the emulated Asterisk, as AMI shows them (``ami-queue-members.txt``).

:class:`EmulatedQueue` holds the members (logged in, paused, busy on a call) and the call
statistics; it answers QueueStatus (``QueueParams`` + one ``QueueMember`` per member) and
QueueSummary (``LoggedIn`` / ``Available`` / ``Callers``), and raises the member events of
QueueAdd / QueuePause / QueueRemove. A member is *available* when logged in, not paused and not
on a call, as app_queue counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gtx.testing.ami_events import AMIMessage, device_state_event, event

#: Member ``Status`` (enum ast_device_state): not in use, in use, unavailable.
DEVICE_NOT_INUSE = 1
DEVICE_INUSE = 2
DEVICE_UNAVAILABLE = 5


@dataclass
class QueueMember:
    """One agent of a queue."""

    name: str
    interface: str
    login_time: int
    paused: bool = False
    paused_reason: str = ""
    in_call: bool = False
    unavailable: bool = False
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0

    @property
    def status(self) -> int:
        """The device state app_queue reports for the member."""
        if self.unavailable:
            return DEVICE_UNAVAILABLE
        return DEVICE_INUSE if self.in_call else DEVICE_NOT_INUSE

    @property
    def available(self) -> bool:
        """Free to take a call now."""
        return not self.paused and self.status == DEVICE_NOT_INUSE

    def fields(self, name_key: str, location_key: str) -> list[tuple[str, str]]:
        """The member fields shared by QueueMember and the QueueMember* events."""
        return [
            (name_key, self.name),
            (location_key, self.interface),
            ("StateInterface", self.interface),
            ("Membership", "dynamic"),
            ("Penalty", "0"),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", "1" if self.in_call else "0"),
            ("Status", str(self.status)),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason),
        ]


@dataclass
class EmulatedQueue:
    """One queue (see the module docstring)."""

    name: str
    strategy: str = "ringall"
    members: dict[str, QueueMember] = field(default_factory=dict)  # by interface
    callers: int = 0
    completed: int = 0
    abandoned: int = 0
    talk_seconds: float = 0.0

    def available_member(self) -> QueueMember | None:
        """The first available member, if any."""
        return next((m for m in self.members.values() if m.available), None)

    @property
    def logged_in(self) -> int:
        """Members logged in (and not unavailable)."""
        return sum(1 for m in self.members.values() if not m.unavailable)

    @property
    def available(self) -> int:
        """Members free to take a call."""
        return sum(1 for m in self.members.values() if m.available)

    def call_completed(self, member: QueueMember, talk_seconds: float, now: int) -> None:
        """Count a call a member took."""
        member.calls_taken += 1
        member.last_call = now
        self.completed += 1
        self.talk_seconds += talk_seconds

    # -- AMI -----------------------------------------------------------------------------------

    def status_events(self, action_id: str | None) -> list[AMIMessage]:
        """QueueParams then one QueueMember per member (no Privilege: list events)."""
        tail = [("ActionID", action_id)] if action_id is not None else []
        talk = int(self.talk_seconds / self.completed) if self.completed else 0
        perf = "100.0" if self.completed else "0.0"
        params = AMIMessage([
            ("Event", "QueueParams"),
            ("Queue", self.name),
            ("Max", "0"),
            ("Strategy", self.strategy),
            ("Calls", str(self.callers)),
            ("Holdtime", "0"),
            ("TalkTime", str(talk)),
            ("Completed", str(self.completed)),
            ("Abandoned", str(self.abandoned)),
            ("ServiceLevel", "0"),
            ("ServicelevelPerf", perf),
            ("ServicelevelPerf2", perf),
            ("Weight", "0"),
            *tail,
        ])
        messages = [params]
        for member in self.members.values():
            messages.append(AMIMessage([
                ("Event", "QueueMember"),
                ("Queue", self.name),
                *member.fields("Name", "Location"),
                ("Wrapuptime", "0"),
                *tail,
            ]))
        return messages

    def summary_event(self, action_id: str | None) -> AMIMessage:
        """The QueueSummary event."""
        tail = [("ActionID", action_id)] if action_id is not None else []
        talk = int(self.talk_seconds / self.completed) if self.completed else 0
        return AMIMessage([
            ("Event", "QueueSummary"),
            ("Queue", self.name),
            ("LoggedIn", str(self.logged_in)),
            ("Available", str(self.available)),
            ("Callers", str(self.callers)),
            ("HoldTime", "0"),
            ("TalkTime", str(talk)),
            ("LongestHoldTime", "0"),
            *tail,
        ])

    def member_event(self, name: str, member: QueueMember) -> AMIMessage:
        """QueueMemberAdded / QueueMemberPause / QueueMemberRemoved."""
        return event(name, "agent,all", [("Queue", self.name)], member.fields(
            "MemberName", "Interface"), [("Ringinuse", "1"), ("Wrapuptime", "0")])

    def pause_device_events(self, member: QueueMember) -> list[AMIMessage]:
        """The DeviceStateChange events that follow a pause change."""
        state = "INUSE" if member.paused else "NOT_INUSE"
        avail = "NOT_INUSE" if self.available else "INUSE"
        return [
            device_state_event(f"Queue:{self.name}_pause_{member.interface}", state),
            device_state_event(f"Queue:{self.name}_avail", avail),
        ]
