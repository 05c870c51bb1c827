"""AMI messages as the emulated Asterisk writes them: framing, channel snapshots, causes.

An AMI message is an ordered list of ``Key: Value`` lines, each ending in ``\\r\\n``, closed by
an empty line. Keys repeat (``Variable:``), so a message is kept as a list of pairs, not a dict.
Every channel event carries the same *snapshot* of the channel (``Channel`` … ``Linkedid``),
in the order Asterisk's ``ast_manager_build_channel_state_string`` writes it; the ``Dest…`` and
``LocalOne…`` forms of DialBegin and LocalBridge are the same snapshot with a prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

#: The banner Asterisk sends when an AMI connection opens (the AMI version, not Asterisk's).
BANNER = "Asterisk Call Manager/13.0.0"

#: Channel states (enum ast_channel_state) and their ``ChannelStateDesc``.
STATE_DOWN = 0
STATE_RING = 4
STATE_RINGING = 5
STATE_UP = 6
STATE_BUSY = 7
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}

#: Hang-up causes (Q.850) and the ``Cause-txt`` Asterisk gives them.
CAUSE_UNKNOWN = 0
CAUSE_UNALLOCATED = 1
CAUSE_NORMAL = 16
CAUSE_BUSY = 17
CAUSE_NO_ANSWER = 19
CAUSE_CONGESTION = 34
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}

#: OriginateResponse ``Reason`` values (enum ast_control_frame_type as outgoing.c reports it).
REASON_FAILURE = 0
REASON_NO_ANSWER = 3
REASON_ANSWERED = 4
REASON_BUSY = 5
REASON_CONGESTION = 8

#: What Asterisk prints for a caller id it does not have.
UNKNOWN = "<unknown>"


@dataclass
class AMIMessage:
    """One AMI message: ordered ``(key, value)`` pairs."""

    fields: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key`` (AMI keys are case-insensitive)."""
        wanted = key.lower()
        for name, value in self.fields:
            if name.lower() == wanted:
                return value
        return default

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key``, in order (``Variable:`` lines)."""
        wanted = key.lower()
        return [value for name, value in self.fields if name.lower() == wanted]

    @property
    def name(self) -> str:
        """``Event:`` for an event, ``Response:`` for a response, ``Action:`` for an action."""
        return self.get("Event") or self.get("Response") or self.get("Action") or ""

    def encode(self) -> bytes:
        """The message on the wire: ``Key: Value\\r\\n`` lines, then ``\\r\\n``."""
        return "".join(f"{k}: {v}\r\n" for k, v in self.fields).encode("utf-8") + b"\r\n"

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.fields)


def parse_message(lines: Iterable[str]) -> AMIMessage:
    """A message from its lines (without the closing empty line). A line with no colon is kept
    with an empty value under the whole line as key, as Asterisk keeps it (then ignores it)."""
    pairs: list[tuple[str, str]] = []
    for line in lines:
        key, colon, value = line.partition(":")
        pairs.append((key.strip(), value.strip() if colon else ""))
    return AMIMessage(pairs)


@dataclass
class AMIChannel:
    """The state of one emulated channel as AMI events describe it."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = STATE_DOWN
    caller_num: str = UNKNOWN
    caller_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    language: str = "en"
    accountcode: str = ""
    application: str = ""
    app_data: str = ""
    created: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)
    hung_up: bool = False

    def snapshot(self, prefix: str = "") -> list[tuple[str, str]]:
        """The channel snapshot fields, each key prefixed (``Dest``, ``LocalOne``…)."""
        pairs = [
            ("Channel", self.name),
            ("ChannelState", str(self.state)),
            ("ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            ("CallerIDNum", self.caller_num),
            ("CallerIDName", self.caller_name),
            ("ConnectedLineNum", self.connected_num),
            ("ConnectedLineName", self.connected_name),
            ("Language", self.language),
            ("AccountCode", self.accountcode),
            ("Context", self.context),
            ("Exten", self.exten),
            ("Priority", str(self.priority)),
            ("Uniqueid", self.uniqueid),
            ("Linkedid", self.linkedid),
        ]
        return [(prefix + key, value) for key, value in pairs]


def event(name: str, privilege: str, *parts: Iterable[tuple[str, str]]) -> AMIMessage:
    """An event message: ``Event``, ``Privilege``, then the given field groups in order."""
    fields = [("Event", name), ("Privilege", privilege)]
    for part in parts:
        fields.extend(part)
    return AMIMessage(fields)


def channel_event(
    name: str, channel: AMIChannel, *extra: tuple[str, str], privilege: str = "call,all"
) -> AMIMessage:
    """A channel event: the snapshot of ``channel`` followed by ``extra`` fields."""
    return event(name, privilege, channel.snapshot(), extra)


def hangup_event(channel: AMIChannel, cause: int) -> AMIMessage:
    """``Hangup`` with ``Cause`` and ``Cause-txt``."""
    return channel_event(
        "Hangup", channel, ("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))
    )


def var_set_event(channel: AMIChannel, variable: str, value: str) -> AMIMessage:
    """``VarSet`` of one channel variable."""
    return channel_event(
        "VarSet", channel, ("Variable", variable), ("Value", value), privilege="dialplan,all"
    )


def newexten_event(channel: AMIChannel, application: str, data: str) -> AMIMessage:
    """``Newexten``: the channel runs a dialplan application."""
    return channel_event(
        "Newexten",
        channel,
        ("Extension", channel.exten),
        ("Application", application),
        ("AppData", data),
        privilege="dialplan,all",
    )


def device_state_event(device: str, state: str) -> AMIMessage:
    """``DeviceStateChange`` of a device (``Local/agi@gtx-test``, ``Queue:sales_avail``…)."""
    return event("DeviceStateChange", "call,all", [("Device", device), ("State", state)])


def user_event(channel: AMIChannel, name: str, fields: Iterable[tuple[str, str]]) -> AMIMessage:
    """``UserEvent`` raised by the dialplan's ``UserEvent(NAME,Key: Value,…)`` on a channel."""
    return event("UserEvent", "user,all", channel.snapshot(), [("UserEvent", name)], fields)


def action_response(action: AMIMessage, kind: str, *fields: tuple[str, str]) -> AMIMessage:
    """``Response: KIND``, the action's ActionID (when it has one), then ``fields``."""
    pairs = [("Response", kind)]
    action_id = action.get("ActionID")
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    return AMIMessage([*pairs, *fields])


def action_error(action: AMIMessage, text: str) -> AMIMessage:
    """``Response: Error`` with ``Message: text``."""
    return action_response(action, "Error", ("Message", text))
