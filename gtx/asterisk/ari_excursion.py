"""``exec``, ``queue`` and ``conference`` on an ARI channel: a dialplan excursion.

ARI cannot run dialplan applications, so the channel goes to the dialplan and comes back: gtx
sets ``GTX_EXEC_APP``, ``GTX_EXEC_DATA`` and ``GTX_EXEC_STASIS`` (its application) on the
channel, subscribes its application to the channel (``applications.subscribe``: the events of
the channel keep coming while it is out of Stasis, a hang-up among them), and continues the
channel at ``gtx-ari-exec,s,1`` (``dialplan/extensions_gtx_ari.conf``). That context runs
``TryExec(${GTX_EXEC_APP}(${GTX_EXEC_DATA}))``, sets ``GTX_EXEC_STATUS`` from ``TRYSTATUS``
(SUCCESS, FAILED, NOAPP) and returns with ``Stasis(${GTX_EXEC_STASIS},gtx-exec)``. gtx waits for
that ``StasisStart`` (a hang-up meanwhile is a hang-up), then reads what the application left:
``GTX_EXEC_STATUS``, and ``QUEUESTATUS`` for a queue.

``exec`` returns 0 when the application succeeded and -1 when it failed (it returned non-zero);
``NOAPP`` fails with :class:`~gtx.channel.UnknownApplication`, as ``EXEC`` does on FastAGI.

Back from an excursion the channel is in the ``Stasis()`` of ``[gtx-ari-exec]``, whose next
priority hangs up: when the session ends, the dialplan must go on after the ``Stasis()`` the
call entered gtx by, named explicitly (:func:`dialplan_return`). So gtx also sets
``GTX_STASIS_RETURN`` = ``context,extension,priority`` of that ``Stasis()``: a node that adopts
the channel after a restart finds it there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from gtx.asterisk.ari_api import AriHTTPError
from gtx.asterisk.ari_waits import ChannelWait
from gtx.channel import ChannelHangup, CommandFailed, UnknownApplication

if TYPE_CHECKING:
    from gtx.asterisk.ari_channel import ARIChannel

#: Where the excursion runs (dialplan/extensions_gtx_ari.conf).
EXEC_CONTEXT: Final = "gtx-ari-exec"
#: The channel variable holding ``context,extension,priority`` of the ``Stasis()`` the session
#: began in (set with GTX_EXEC_APP, for a node that adopts the channel after a restart).
STASIS_RETURN: Final = "GTX_STASIS_RETURN"
_APPLICATION: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
_OPTIONS: Final = re.compile(r"^[A-Za-z0-9()^:#*._@-]*$")
_CONFERENCE_OPTIONS: Final = ("bridge_profile", "user_profile", "menu")


def location_text(location: tuple[str, str, int]) -> str:
    """``context,extension,priority``: the value of GTX_STASIS_RETURN."""
    return ",".join(str(part) for part in location)


def parse_location(text: str | None) -> tuple[str, str, int] | None:
    """The ``(context, extension, priority)`` of a GTX_STASIS_RETURN value; None when it is
    not one."""
    parts = (text or "").rsplit(",", 2)
    if len(parts) != 3 or not all(parts) or not parts[2].isdigit() or int(parts[2]) < 1:
        return None
    return parts[0], parts[1], int(parts[2])


async def stasis_entry(channel: ARIChannel) -> tuple[str, str, int] | None:
    """``(context, extension, priority)`` of the ``Stasis()`` the session began in (read
    from GTX_STASIS_RETURN when the session began on the return from an excursion); None
    when unknown."""
    if channel.entry is None and channel.made_excursion:
        channel.entry = parse_location(await channel.variables.read(STASIS_RETURN))
    return channel.entry


async def dialplan_return(channel: ARIChannel) -> tuple[str, str, int] | None:
    """Where the dialplan goes on when the session lets the channel go (no transfer): None
    for the priority after the ``Stasis()`` the channel is in — the one the call entered gtx
    by, unless the channel went on an excursion: it is then in the ``Stasis()`` of
    ``[gtx-ari-exec]``, whose next priority hangs up, so the priority after the session's
    first ``Stasis()`` is named (a Goto there keeps the Gosub frame of ``gtx-stasis``)."""
    if not channel.made_excursion:
        return None
    entry = await stasis_entry(channel)
    if entry is None:
        channel.log.warn("ARI {channel}: where the session began is unknown ({variable} "
                         "unset): the dialplan goes on in {context}",
                         channel=channel.info.channel, variable=STASIS_RETURN,
                         context=EXEC_CONTEXT)
        return None
    context, extension, priority = entry
    return context, extension, priority + 1


async def run_application(channel: ARIChannel, application: str, data: str) -> str | None:
    """Run ``application(data)`` in the dialplan; its GTX_EXEC_STATUS once back in Stasis."""
    if not _APPLICATION.match(application):
        raise CommandFailed("exec", f"invalid application name {application!r}")
    if any(ord(char) < 32 for char in data):
        raise CommandFailed("exec", f"invalid arguments {data!r}")
    channel.require_live(application)
    channel.waits.drop_digits()
    await channel.stop_music()
    entry = await stasis_entry(channel)
    settings = [("GTX_EXEC_APP", application), ("GTX_EXEC_DATA", data),
                ("GTX_EXEC_STASIS", channel.link.app), ("GTX_EXEC_STATUS", "")]
    if entry is not None:
        settings.append((STASIS_RETURN, location_text(entry)))
    for name, value in settings:
        params = {"channelId": channel.id, "variable": name}
        if value:
            params["value"] = value
        await channel.command("channels", "setChannelVar", **params)
    source = f"channel:{channel.id}"
    app = channel.link.app
    try:
        await channel.call("applications", "subscribe", applicationName=app, eventSource=source)
    except AriHTTPError as e:
        raise CommandFailed("applications.subscribe", f"HTTP {e.status} {e.message}") from e
    bound = channel.limits.application_timeout

    def stuck() -> None:
        channel.left_stasis = True
        channel.mark_hung_up(f"did not come back from {application} within {bound:g} s")
        raise ChannelHangup(f"{application}: the channel did not come back to Stasis")

    back: ChannelWait[None] = channel.waits.new(bound, stuck, on_digit=lambda _: None)
    channel.expect_return(back)
    try:
        await channel.command("channels", "continueInDialplan", channelId=channel.id,
                              context=EXEC_CONTEXT, extension="s", priority=1)
        channel.made_excursion = True  # its Stasis() is now [gtx-ari-exec]'s
        await back.deferred
    finally:
        back.cancel()
        channel.expect_return(None)
    try:
        await channel.call("applications", "unsubscribe", applicationName=app,
                           eventSource=source)
    except AriHTTPError as e:  # it is back in Stasis: its events come anyway
        channel.log.debug("ARI: unsubscribing from {source}: {error}", source=source, error=e)
    return await channel.get_variable("GTX_EXEC_STATUS")


async def execute(channel: ARIChannel, application: str, args: Sequence[str]) -> int:
    """``exec``: 0 (SUCCESS), -1 (FAILED); UnknownApplication for NOAPP."""
    status = await run_application(channel, application, ",".join(args))
    if status == "NOAPP":
        raise UnknownApplication(f"EXEC {application}", "no such application")
    if status == "SUCCESS":
        return 0
    if status == "FAILED":
        return -1
    raise CommandFailed(f"EXEC {application}", f"unexpected GTX_EXEC_STATUS {status!r}")


async def queue(channel: ARIChannel, name: str, timeout: int | None, options: str) -> str:
    """Queue(name,options,,,timeout); QUEUESTATUS ("" when not set)."""
    channel.dialplan_name(name, "queue name")
    if not _OPTIONS.match(options):
        raise CommandFailed("queue", f"invalid options {options!r}")
    args = [name, options]
    if timeout is not None:
        args += ["", "", str(int(timeout))]
    status = await run_application(channel, "Queue", ",".join(args))
    if status == "NOAPP":
        raise UnknownApplication("Queue", "no such application")
    return await channel.get_variable("QUEUESTATUS") or ""


async def conference(channel: ARIChannel, name: str, options: Mapping[str, str]) -> None:
    """ConfBridge(name[,bridge_profile[,user_profile[,menu]]])."""
    unknown = sorted(set(options) - set(_CONFERENCE_OPTIONS))
    if unknown:
        raise CommandFailed("conference", f"unknown options {unknown}")
    args = [channel.dialplan_name(name, "conference name")]
    args += [channel.dialplan_name(options[key], key) if options.get(key) else ""
             for key in _CONFERENCE_OPTIONS]
    while len(args) > 1 and not args[-1]:
        args.pop()
    status = await run_application(channel, "ConfBridge", ",".join(args))
    if status == "NOAPP":
        raise UnknownApplication("ConfBridge", "no such application")
