"""Agent availability: how many agents of an Asterisk queue can take a call now.

The dialer only asks :class:`AgentSource`; the AMI layer keeps the answer up to date from
``QueueStatus`` (at start and after every reconnect: ``QueueMember`` events) and from the queue
member events (``QueueMemberStatus``, ``QueueMemberPause``, ``QueueMemberAdded``,
``QueueMemberRemoved``, ``AgentConnect``, ``AgentComplete``). A free agent is a member that is
logged in, not paused, and not in a call (``Status`` 1 = not in use).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class AgentSource(Protocol):
    """Where the dialer learns how many agents are free."""

    def free_agents(self, queue: str) -> int:
        """Agents of ``queue`` that could take a call now (0 for an unknown queue). Must be
        cheap: the dialer asks on every pacing tick."""


class FixedAgents:
    """A fixed number of free agents per queue (for tests, demos and the ``gtx`` simulator)."""

    def __init__(self, free: Mapping[str, int] | None = None) -> None:
        self.free: dict[str, int] = dict(free or {})

    def free_agents(self, queue: str) -> int:
        return self.free.get(queue, 0)
