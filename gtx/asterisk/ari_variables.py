"""The variables of an ARI channel, and what is kept of them for after the hang-up.

ARI cannot reach a destroyed channel, so :class:`ChannelVariables` keeps the values gtx set,
read or saw (``ChannelVarset``). Once the channel has hung up, reads answer from that cache;
writes update it and are still sent while the channel exists (a 404 is then ignored), and not
at all once it is destroyed. The values set for a hand-off to another server (``IAXVAR(…)``,
``_GTX_HANDOFF_…``) are also kept, for the originate of :mod:`gtx.asterisk.ari_dial`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from gtx.asterisk.ari_api import AriConflict, AriHTTPError, AriNotFound
from gtx.asterisk.ari_info import channel_missing, function_unreadable
from gtx.channel import CommandFailed

if TYPE_CHECKING:
    from gtx.asterisk.ari_channel import ARIChannel

#: Inherited copies of a session's state that a PJSIP hand-off carries (gtx.ivr.handoff).
HANDOFF_INHERITED_PREFIX: Final = "_GTX_HANDOFF_"
_EXPRESSION: Final = re.compile(r"\$\{([^${}]*)\}")
_MAX_EXPANSIONS: Final = 16


def answer_value(answer: object) -> str | None:
    """The value of a ``getChannelVar`` answer (``{"value": …}``)."""
    if isinstance(answer, Mapping) and answer.get("value") is not None:
        return str(answer["value"])
    return None


class ChannelVariables:
    """The variables of one ARIChannel (see the module docstring)."""

    def __init__(self, channel: ARIChannel) -> None:
        self.channel = channel
        self._values: dict[str, str | None] = {}
        self._handoff: dict[str, str] = {}

    def saw(self, name: str, value: str) -> None:
        """Asterisk reported the variable set (``ChannelVarset``)."""
        self._values[name] = value

    async def read(self, name: str) -> str | None:
        """A variable's value, or None when it is not set."""
        channel = self.channel
        if channel.hung_up:
            return self._values.get(name)
        try:
            answer = await channel.call("channels", "getChannelVar", channelId=channel.id,
                                        variable=name)
        except AriHTTPError as e:
            if channel_missing(e):
                channel.left_stasis = channel.left_stasis or isinstance(e, AriConflict)
                channel.mark_hung_up(f"is gone (channels.getChannelVar: {e.message})")
                return self._values.get(name)
            # "Provided variable was not found"; a function that failed to read (an absent
            # PJSIP header) is unset too, as with FastAGI's GET FULL VARIABLE.
            if isinstance(e, AriNotFound) or function_unreadable(e):
                self._values[name] = None
                return None
            raise CommandFailed("channels.getChannelVar", f"HTTP {e.status} {e.message}") from e
        value = answer_value(answer)
        self._values[name] = value
        return value

    async def evaluate(self, expression: str) -> str | None:
        """Evaluate a ``${…}`` expression, one ``${…}`` at a time (innermost first); None when
        the whole expression is one unset variable."""
        text = expression
        for _ in range(_MAX_EXPANSIONS):
            match = _EXPRESSION.search(text)
            if match is None:
                break
            value = await self.read(match.group(1))
            if match.group(0) == text:
                return value
            text = text[: match.start()] + (value or "") + text[match.end():]
        return text

    async def write(self, name: str, value: str) -> None:
        """Set a variable (an empty value unsets it)."""
        channel = self.channel
        self._remember(name, value)
        if channel.destroyed:
            return
        params: dict[str, Any] = {"channelId": channel.id, "variable": name}
        if value != "":
            params["value"] = value
        try:
            await channel.call("channels", "setChannelVar", **params)
        except AriHTTPError as e:
            if not channel_missing(e):
                raise CommandFailed("channels.setChannelVar",
                                    f"HTTP {e.status} {e.message}") from e
            channel.mark_hung_up(f"is gone (channels.setChannelVar: {e.message})")

    async def write_many(self, values: Mapping[str, str]) -> None:
        """Set variables in order: those with a value in one ``setChannelVars`` when this
        Asterisk has it (newer versions; older ones get one ``setChannelVar`` each), an empty
        value (unset) on its own."""
        channel = self.channel
        batch = {name: value for name, value in values.items() if value != ""}
        if len(batch) < 2 or not channel.link.supports("channels", "setChannelVars"):
            for name, value in values.items():
                await self.write(name, value)
            return
        for name, value in values.items():
            self._remember(name, value)
        if channel.destroyed:
            return
        try:
            await channel.call("channels", "setChannelVars", channelId=channel.id,
                               variables=batch)
        except AriHTTPError as e:
            if not channel_missing(e):
                raise CommandFailed("channels.setChannelVars",
                                    f"HTTP {e.status} {e.message}") from e
            channel.mark_hung_up(f"is gone (channels.setChannelVars: {e.message})")
            return
        for name, value in values.items():
            if value == "":
                await self.write(name, value)

    def _remember(self, name: str, value: str) -> None:
        self._values[name] = value if value != "" else None
        if name.startswith(("IAXVAR(", HANDOFF_INHERITED_PREFIX)):
            if value:
                self._handoff[name] = value
            else:
                self._handoff.pop(name, None)

    def handoff_variables(self, target: str) -> dict[str, str]:
        """The originate ``variables`` that carry the session to another server: ARI runs no
        pre-dial handler and a leg may not inherit IAXVARs, so what the session set on the
        channel for the hand-off goes in the originate itself (IAXVAR(NAME) for IAX2,
        ``PJSIP_HEADER(add,X-GTX-…)`` for PJSIP)."""
        technology = target.split("/", 1)[0].upper()
        variables: dict[str, str] = {}
        for name, value in self._handoff.items():
            if technology == "IAX2" and name.startswith("IAXVAR("):
                variables[name] = value
            elif technology == "PJSIP" and name.startswith(HANDOFF_INHERITED_PREFIX):
                header = "X-GTX-" + name.removeprefix(HANDOFF_INHERITED_PREFIX).capitalize()
                variables[f"PJSIP_HEADER(add,{header})"] = value
        return variables
