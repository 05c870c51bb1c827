"""Session state kept on the channel, so that any gtx node can pick a session up.

Variables (all written by gtx; the dialplan reads ``GTX_STATUS`` and ``GTX_ERROR``):

=============  ============================================================================
GTX_SESSION    the session id
GTX_APP        the app whose settings drive the session
GTX_STEP       the number of the next step to run
GTX_NEXT       JSON ``{"url": …, "method": …}`` (plus ``"app"`` when it names an app); a bare
               method name is accepted too (as set by a dialplan that hands a call over)
GTX_VARS       JSON struct of the session variables
GTX_RESULT     JSON struct of the last step's result
GTX_STATUS     READY when a session was prepared (by the dialer: it starts with GTX_VARS),
               RUNNING while a session is active; DONE, ERROR or HANGUP at the end; HANDOFF
               when the session handed the call to a dialplan location (a ``transfer`` with
               ``handoff``): the state above is that of its next step, which whichever gtx
               node and backend (FastAGI or ARI) takes the call next runs
GTX_ERROR      "<kind>: <message>" when GTX_STATUS is ERROR, empty otherwise
=============  ============================================================================

Every value must fit in one Asterisk command line (FastAGI reads 2 KiB per command), so a value
may take at most :data:`MAX_VALUE_BYTES` (quotes and backslashes count twice: they are escaped
on the way). Session variables over the limit are an error of the web service; a step result
over the limit is stored without its ``actions`` list (then as ``{}``), so a resumed session
still gets its named results and digits when they fit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from gtx.channel import Channel

#: The largest value gtx writes into one channel variable (see the module docstring).
MAX_VALUE_BYTES: Final = 1900

#: Set by another part of gtx (the dialer) that prepared a session on the channel: the session
#: starts at step 1 with the GTX_VARS found there.
READY: Final = "READY"
RUNNING: Final = "RUNNING"
DONE: Final = "DONE"
ERROR: Final = "ERROR"
HANGUP: Final = "HANGUP"
#: The session left the call to the dialplan with the state of its next step on the channel:
#: the next session started on the channel continues it (same id, vars and last result).
HANDOFF: Final = "HANDOFF"

STATE_VARIABLES: Final = (
    "GTX_SESSION", "GTX_APP", "GTX_STEP", "GTX_NEXT", "GTX_VARS", "GTX_RESULT",
)
#: The SIP header carrying each state variable to another server (``PJSIP_HEADER``).
STATE_HEADERS: Final = {
    "GTX_SESSION": "X-GTX-Session", "GTX_APP": "X-GTX-App", "GTX_STEP": "X-GTX-Step",
    "GTX_NEXT": "X-GTX-Next", "GTX_VARS": "X-GTX-Vars", "GTX_RESULT": "X-GTX-Result",
}


class StateError(Exception):
    """The state on the channel cannot be used to resume (names the variable)."""


@dataclass(frozen=True)
class Target:
    """Where the next step goes: a method of a web service, optionally under a named app."""

    url: str
    method: str
    app: str | None = None  # set when the service asked for a configured app ({app: NAME})

    def to_json(self) -> str:
        data = {"url": self.url, "method": self.method}
        if self.app is not None:
            data["app"] = self.app
        return encode(data)


@dataclass
class SessionState:
    """What a session knows between steps; mirrored on the channel after every step."""

    session: str
    app: str
    step: int
    next: Target
    vars: dict[str, object] = field(default_factory=dict)
    result: dict[str, object] = field(default_factory=dict)
    resumed: bool = False


def encode(value: object) -> str:
    """Compact JSON on one line (JSON escapes newlines, so the value is one line)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def weight(text: str) -> int:
    """How many bytes ``text`` takes on an Asterisk command line once quoted."""
    return len(text.encode()) + text.count('"') + text.count("\\")


def encode_result(result: Mapping[str, object]) -> str:
    """GTX_RESULT: the whole result if it fits, else without ``actions``, else ``{}``."""
    text = encode(result)
    if weight(text) <= MAX_VALUE_BYTES:
        return text
    text = encode({key: value for key, value in result.items() if key != "actions"})
    return text if weight(text) <= MAX_VALUE_BYTES else "{}"


def parse_next(value: str, default_url: str) -> Target:
    """GTX_NEXT: JSON ``{url, method[, app]}`` or a bare method name (same url)."""
    text = value.strip()
    if not text.startswith("{"):
        if not text:
            raise StateError("GTX_NEXT is empty")
        if not default_url:
            raise StateError(f"GTX_NEXT names method {text[:100]!r} but its app has no url")
        return Target(default_url, text)
    try:
        data = json.loads(text)
    except ValueError as e:
        raise StateError(f"GTX_NEXT is not valid JSON: {e}") from None
    url, method, app = data.get("url"), data.get("method"), data.get("app")
    if not isinstance(url, str) or not isinstance(method, str) or not (
        app is None or isinstance(app, str)
    ):
        raise StateError(f"GTX_NEXT needs string url and method, got {text[:100]!r}")
    return Target(url, method, app)


def parse_struct(name: str, value: str | None) -> dict[str, object]:
    """A JSON struct variable (GTX_VARS, GTX_RESULT); unset or empty means ``{}``."""
    if value is None or not value.strip():
        return {}
    try:
        data = json.loads(value)
    except ValueError as e:
        raise StateError(f"{name} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise StateError(f"{name} is not a JSON object")
    return data


class ChannelState:
    """Reads and writes the GTX_* variables of one channel, writing only what changed."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._written: dict[str, str] = {}

    async def status(self) -> str | None:
        return await self.channel.get_variable("GTX_STATUS")

    async def read(self, expression: str | None = None) -> dict[str, str | None]:
        """The state variables, as plain variables or through a dialplan function.

        ``expression`` is a template such as ``"${{IAXVAR({name})}}"`` or
        ``"${{PJSIP_HEADER(read,{header})}}"`` for state that travelled with the call from
        another Asterisk server (``{header}``: the variable's SIP header, :data:`STATE_HEADERS`).
        """
        values: dict[str, str | None] = {}
        for name in STATE_VARIABLES:
            if expression is None:
                values[name] = await self.channel.get_variable(name)
            else:
                values[name] = await self.channel.get_full_variable(
                    expression.format(name=name, header=STATE_HEADERS[name]))
        return values

    def assume(self, name: str, value: str) -> None:
        """Record that the channel already holds ``value`` (saves a useless write)."""
        self._written[name] = value

    async def write(self, name: str, value: str) -> None:
        """Set one variable unless it already holds ``value`` (as far as gtx wrote it)."""
        if self._written.get(name) == value:
            return
        await self.channel.set_variable(name, value)
        self._written[name] = value

    async def save(self, state: SessionState, status: str = RUNNING) -> None:
        """Mirror ``state`` on the channel, what changed in one go (one request over ARI).
        GTX_STATUS goes last so it never announces a state that is not complete."""
        values = {
            "GTX_SESSION": state.session,
            "GTX_APP": state.app,
            "GTX_STEP": str(state.step),
            "GTX_NEXT": state.next.to_json(),
            "GTX_VARS": encode(state.vars),
            "GTX_RESULT": encode_result(state.result),
            "GTX_STATUS": status,
        }
        changed = {name: value for name, value in values.items()
                   if self._written.get(name) != value}
        if len(changed) == 1:
            ((name, value),) = changed.items()
            await self.channel.set_variable(name, value)
        elif changed:
            await self.channel.set_variables(changed)
        self._written.update(changed)

    async def finish(self, status: str, error: str = "") -> None:
        """Write the final status (and the error, which is cleared when there is none)."""
        await self.write("GTX_ERROR", error)
        await self.write("GTX_STATUS", status)


def start_values(state: SessionState) -> dict[str, str]:
    """What an unset state variable stands for when a session is resumed (GTX_NEXT: the
    start of the session's app), so a new session need not write them before step 1."""
    return {
        "GTX_ERROR": "",
        "GTX_STEP": "1",
        "GTX_NEXT": state.next.to_json(),
        "GTX_VARS": "{}",
        "GTX_RESULT": "{}",
    }


def load(
    values: Mapping[str, str | None],
    *,
    default_app: str,
    url_for: Callable[[str], str | None],
) -> SessionState:
    """Rebuild a session from its channel variables, for a resumed session.

    ``url_for(app)`` gives the url of an app, for a GTX_NEXT that is a bare method name.
    """
    session = (values.get("GTX_SESSION") or "").strip()
    if not session:
        raise StateError("GTX_SESSION is not set")
    step_text = (values.get("GTX_STEP") or "1").strip()
    try:
        step = int(step_text)
    except ValueError:
        raise StateError(f"GTX_STEP is not a number: {step_text[:20]!r}") from None
    if step < 1:
        raise StateError(f"GTX_STEP must be 1 or more, got {step}")
    app = (values.get("GTX_APP") or "").strip() or default_app
    next_text = values.get("GTX_NEXT")
    if next_text is None:
        raise StateError("GTX_NEXT is not set")
    return SessionState(
        session=session,
        app=app,
        step=step,
        next=parse_next(next_text, url_for(app) or ""),
        vars=parse_struct("GTX_VARS", values.get("GTX_VARS")),
        result=parse_struct("GTX_RESULT", values.get("GTX_RESULT")),
        resumed=True,
    )
