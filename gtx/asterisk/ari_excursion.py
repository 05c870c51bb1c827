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
_APPLICATION: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
_OPTIONS: Final = re.compile(r"^[A-Za-z0-9()^:#*._@-]*$")
_CONFERENCE_OPTIONS: Final = ("bridge_profile", "user_profile", "menu")


async def run_application(channel: ARIChannel, application: str, data: str) -> str | None:
    """Run ``application(data)`` in the dialplan; its GTX_EXEC_STATUS once back in Stasis."""
    if not _APPLICATION.match(application):
        raise CommandFailed("exec", f"invalid application name {application!r}")
    if any(ord(char) < 32 for char in data):
        raise CommandFailed("exec", f"invalid arguments {data!r}")
    channel.require_live(application)
    channel.waits.drop_digits()
    await channel.stop_music()
    for name, value in (("GTX_EXEC_APP", application), ("GTX_EXEC_DATA", data),
                        ("GTX_EXEC_STASIS", channel.link.app), ("GTX_EXEC_STATUS", "")):
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
