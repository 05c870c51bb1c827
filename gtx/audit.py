"""The audit log's entry: who changed what through the API, when, from where.

The API's authentication layer (:mod:`gtx.xmlrpc.auth`) writes entries; the store
(:mod:`gtx.store`) keeps them. Neither depends on the other: both use this value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditEntry:
    """One state-changing API call."""

    at: float  # epoch seconds
    user: str
    method: str
    peer: str  # the caller's address
    summary: str  # the arguments, shortened (no secrets), and the outcome
