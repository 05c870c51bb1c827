"""Checking what gtx follows against the channels up on an Asterisk server.

The originator (calls) and the recorder (recordings) both need, after every AMI login, to
compare what they follow with ``CoreShowChannels``: a call or recording whose channel went
away while the link was down must be ended, not forgotten. :class:`ChannelSweep` runs that
comparison one at a time (a login during a sweep runs another once it is done).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.logger import Logger
from twisted.python.failure import Failure

from gtx.asterisk.ami import AMIClient
from gtx.asterisk.ami_message import AMIMessage

#: Compares the channels up (the ``CoreShowChannel`` events) with what was followed.
Comparer = Callable[[list[AMIMessage]], None]


class ChannelSweep:
    """``prepare()`` returns the comparison to run (with its snapshot of what is followed
    now), or None when nothing is followed."""

    def __init__(self, client: AMIClient, what: str, prepare: Callable[[], Comparer | None],
                 log: Logger) -> None:
        self.client = client
        self.what = what
        self.prepare = prepare
        self.log = log
        self._running = False
        self._again = False

    def run(self) -> None:
        """Sweep now (after a login), or once the sweep under way is done."""
        if self._running:
            self._again = True
            return
        compare = self.prepare()
        if compare is None:
            return
        self._running = True
        listed = self.client.send_list_action("CoreShowChannels")

        def failed(failure: Failure) -> None:
            self.log.warn("AMI {server}: {what} not resynchronised: {error}; the next login "
                          "tries again", server=self.client.server, what=self.what,
                          error=failure.getErrorMessage())

        def done(_: None) -> None:
            self._running = False
            if self._again and self.client.connected:
                self._again = False
                self.run()

        listed.addCallbacks(lambda channels: compare(list(channels.events)), failed)
        listed.addBoth(done)

