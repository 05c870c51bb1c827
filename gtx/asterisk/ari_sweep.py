"""The channel sweep of the ARI originator and recorder: ``channels.list`` after every
(re)connection of the link (see :mod:`gtx.asterisk.channel_sweep`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from gtx.asterisk.ari_api import AriLink
from gtx.asterisk.channel_sweep import ChannelSweep

#: One channel as ``channels.list`` gives it (the ARI ``Channel`` model).
ChannelJSON = Mapping[str, Any]
#: Compares the channels up with what was followed.
Comparer = Callable[[list[ChannelJSON]], object]


def _channels(answer: object) -> list[ChannelJSON]:
    if not isinstance(answer, list):
        raise TypeError(f"channels.list answered {type(answer).__name__}, not a list")
    return [c for c in answer if isinstance(c, Mapping)]


def ari_channel_sweep(link: AriLink, what: str,
                      prepare: Callable[[], Comparer | None],
                      log: Logger) -> ChannelSweep[ChannelJSON]:
    """The sweep of ``what`` (calls, recordings) over ``link``."""

    def list_channels() -> Deferred[list[ChannelJSON]]:
        return link.call("channels", "list").addCallback(_channels)

    return ChannelSweep(link="ARI", server=link.name, what=what, list_channels=list_channels,
                        connected=lambda: link.connected, prepare=prepare, log=log)
