"""Checking what gtx follows against the channels up on an Asterisk server.

The originators (calls) and recorders (recordings), over AMI and over ARI alike, need after
every (re)connection of their link to compare what they follow with the channels Asterisk has
up: a call or recording whose channel went away while the link was down must be ended, not
forgotten (its events were lost with the link). :class:`ChannelSweep` runs that comparison one
at a time (a reconnection during a sweep runs another once it is done); how the channels are
listed is the link's business (:mod:`gtx.asterisk.ami_sweep`: ``CoreShowChannels``;
:mod:`gtx.asterisk.ari_sweep`: ``channels.list``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

_C = TypeVar("_C")


class ChannelSweep(Generic[_C]):
    """``prepare()`` returns the comparison to run (with its snapshot of what is followed
    now), or None when nothing is followed; ``list_channels()`` gives the channels up."""

    def __init__(self, *, link: str, server: str, what: str,
                 list_channels: Callable[[], Deferred[list[_C]]],
                 connected: Callable[[], bool],
                 prepare: Callable[[], Callable[[list[_C]], object] | None],
                 log: Logger) -> None:
        self.link = link
        self.server = server
        self.what = what
        self.list_channels = list_channels
        self.connected = connected
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

        def failed(failure: Failure) -> None:
            self.log.warn("{link} {server}: {what} not resynchronised: {error}; the next "
                          "connection tries again", link=self.link, server=self.server,
                          what=self.what, error=failure.getErrorMessage())

        def done(_: object) -> None:
            self._running = False
            if self._again and self.connected():
                self._again = False
                self.run()

        self.list_channels().addCallback(compare).addErrback(failed).addBoth(done)
