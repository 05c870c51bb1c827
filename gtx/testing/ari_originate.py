"""Originating calls on the emulated ARI server (written next)."""

from __future__ import annotations

from gtx.testing.ari_model import Handler

HANDLERS: dict[str, Handler] = {}
