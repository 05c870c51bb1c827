"""The channel sweep of the AMI originator and recorder: ``CoreShowChannels`` after every
login (see :mod:`gtx.asterisk.channel_sweep`)."""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_message import AMIMessage
from gtx.asterisk.channel_sweep import ChannelSweep as _Sweep

#: Compares the channels up (the ``CoreShowChannel`` events) with what was followed.
Comparer = Callable[[list[AMIMessage]], object]


def ami_channel_sweep(client: AMIClient, what: str,
                      prepare: Callable[[], Comparer | None],
                      log: Logger) -> _Sweep[AMIMessage]:
    """The sweep of ``what`` (calls, recordings) over ``client``."""

    def list_channels() -> Deferred[list[AMIMessage]]:
        return client.send_list_action("CoreShowChannels").addCallback(
            lambda answer: list(answer.events))

    return _Sweep(link="AMI", server=client.server, what=what, list_channels=list_channels,
                  connected=lambda: client.connected, prepare=prepare, log=log)
