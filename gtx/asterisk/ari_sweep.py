"""Checking what gtx follows over ARI against the channels up on an Asterisk server.

The ARI originator (calls) and recorder (recordings) both need, after every (re)connection of
the link, to compare what they follow with ``channels.list``: a call or recording whose
channel went away while the WebSocket was down must be ended, not forgotten (its events were
lost with the socket). :class:`AriChannelSweep` runs that comparison one at a time (a
reconnection during a sweep runs another once it is done), like
:class:`gtx.asterisk.ami_sweep.ChannelSweep` does with ``CoreShowChannels``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.asterisk.ari_api import AriLink

#: One channel as ``channels.list`` gives it (the ARI ``Channel`` model).
ChannelJSON = Mapping[str, Any]
#: Compares the channels up with what was followed.
Comparer = Callable[[list[ChannelJSON]], object]


class AriChannelSweep:
    """``prepare()`` returns the comparison to run (with its snapshot of what is followed
    now), or None when nothing is followed."""

    def __init__(self, link: AriLink, what: str, prepare: Callable[[], Comparer | None],
                 log: Logger) -> None:
        self.link = link
        self.what = what
        self.prepare = prepare
        self.log = log
        self._running = False
        self._again = False

    def run(self) -> None:
        """Sweep now (after a connection), or once the sweep under way is done."""
        if self._running:
            self._again = True
            return
        compare = self.prepare()
        if compare is None:
            return
        self._running = True
        listed = self.link.call("channels", "list")

        def got(channels: object) -> None:
            if not isinstance(channels, list):
                raise TypeError(f"channels.list answered {type(channels).__name__}, "
                                "not a list")
            compare([c for c in channels if isinstance(c, Mapping)])

        def failed(failure: Failure) -> None:
            self.log.warn("ARI {server}: {what} not resynchronised: {error}; the next "
                          "connection tries again", server=self.link.name, what=self.what,
                          error=failure.getErrorMessage())

        def done(_: object) -> None:
            self._running = False
            if self._again and self.link.connected:
                self._again = False
                self.run()

        listed.addCallback(got).addErrback(failed).addBoth(done)
