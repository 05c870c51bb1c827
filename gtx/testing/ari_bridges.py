"""Bridges on the emulated ARI server (``bridges.*``).

Mixing (or holding) bridges created by ID; channels in Stasis join and leave them with
``ChannelEnteredBridge``/``ChannelLeftBridge``; ``BridgeCreated``/``BridgeDestroyed`` go to the
applications subscribed to the bridge (an application whose channel joins it is subscribed, as
on ARI), the other bridge events also to the applications of the channels in it. A channel that
hangs up (or leaves Stasis) leaves its bridge and the others stay there, in Stasis, as on ARI.
Bridged channels hear each other: a recording of one hears what the others say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gtx.testing.ari_model import (
    JSON,
    ARIChannel,
    ARIFault,
    Handler,
    Reply,
    RestCall,
    ari_timestamp,
    event,
)

if TYPE_CHECKING:
    from gtx.testing.ari_server import EmulatedARIServer


@dataclass(eq=False)
class Bridge:
    """One bridge."""

    id: str
    name: str
    bridge_type: str  # mixing, holding
    created: float  # epoch
    channels: list[ARIChannel] = field(default_factory=list)
    subscribers: set[str] = field(default_factory=set)

    def to_json(self) -> JSON:
        """The Bridge model."""
        return {
            "id": self.id,
            "technology": "simple_bridge" if self.bridge_type == "mixing" else "holding_bridge",
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": [c.id for c in self.channels],
            "creationtime": ari_timestamp(self.created),
            "video_mode": "talker",
        }


class ARIBridges:
    """The bridges of one server (``server.bridges``)."""

    def __init__(self, server: EmulatedARIServer) -> None:
        self.server = server
        #: Bridges by id.
        self.bridges: dict[str, Bridge] = {}

    def create(self, bridge_id: str, name: str, bridge_type: str) -> Bridge:
        """A new bridge: ``BridgeCreated``."""
        bridge = Bridge(bridge_id, name, bridge_type, self.server.epoch())
        self.bridges[bridge_id] = bridge
        self._emit(bridge, event("BridgeCreated", self._ts(), ("bridge", bridge.to_json())))
        return bridge

    def add(self, bridge: Bridge, channel: ARIChannel) -> None:
        """``channel`` joins ``bridge`` (leaving the one it is in)."""
        if channel.bridge is bridge:
            return
        self.leave(channel)
        self.server.recordings.flush(channel, *bridge.channels)
        bridge.channels.append(channel)
        channel.bridge = bridge
        bridge.subscribers |= self._apps_of(channel)  # as ARI subscribes the app to it
        channel.media.note("media", f"joins bridge {bridge.id}")
        self.server.recordings.changed()
        self._emit(bridge, event("ChannelEnteredBridge", self._ts(),
                                 ("bridge", bridge.to_json()), ("channel", channel.to_json())))

    def leave(self, channel: ARIChannel, apps: Iterable[str] | None = None) -> None:
        """``channel`` leaves its bridge (if any): ``ChannelLeftBridge``."""
        bridge = channel.bridge
        if bridge is None:
            return
        self.server.recordings.flush(*bridge.channels)
        bridge.channels.remove(channel)
        channel.bridge = None
        channel.media.note("media", f"leaves bridge {bridge.id}")
        self.server.recordings.changed()
        extra = set(apps or ())
        self._emit(bridge, event("ChannelLeftBridge", self._ts(), ("bridge", bridge.to_json()),
                                 ("channel", channel.to_json())), extra | self._apps_of(channel),
                   leaving=channel)

    def destroy(self, bridge: Bridge) -> None:
        """Every channel leaves, then ``BridgeDestroyed``."""
        for channel in list(bridge.channels):
            self.leave(channel)
        self.bridges.pop(bridge.id, None)
        self._emit(bridge, event("BridgeDestroyed", self._ts(), ("bridge", bridge.to_json())))

    def peers(self, channel: ARIChannel) -> list[ARIChannel]:
        """The other channels in ``channel``'s bridge."""
        bridge = channel.bridge
        return [c for c in bridge.channels if c is not channel] if bridge is not None else []

    def _ts(self) -> str:
        return ari_timestamp(self.server.epoch())

    def _apps_of(self, channel: ARIChannel) -> set[str]:
        return self.server.calls.listeners(channel)

    def _emit(self, bridge: Bridge, message: JSON, extra: Iterable[str] = (),
              leaving: ARIChannel | None = None) -> None:
        apps = set(bridge.subscribers) | set(extra)
        for channel in bridge.channels:
            apps |= self._apps_of(channel)
        if self.server.send_event(message, apps):
            for channel in [*bridge.channels, *([leaving] if leaving is not None else [])]:
                channel.events.append(message)


# -- REST --------------------------------------------------------------------------------------


def _bridge(call: RestCall) -> Bridge:
    bridge = call.server.bridges.bridges.get(str(call.get("bridgeId")))
    if bridge is None:
        raise ARIFault(404, "Bridge not found")
    return bridge


def _create(call: RestCall) -> Reply:
    bridges = call.server.bridges
    bridge_id = call.get("bridgeId") or call.server.new_id("bridge-")
    if bridge_id in bridges.bridges:
        raise ARIFault(409, f"Bridge with id '{bridge_id}' already exists")
    types = (call.get("type") or "mixing").split(",")
    bridge = bridges.create(bridge_id, call.get("name") or "",
                            "holding" if "holding" in types else "mixing")
    return 200, bridge.to_json()


def _list(call: RestCall) -> Reply:
    return 200, [b.to_json() for b in call.server.bridges.bridges.values()]


def _get(call: RestCall) -> Reply:
    return 200, _bridge(call).to_json()


def _destroy(call: RestCall) -> Reply:
    call.server.bridges.destroy(_bridge(call))
    return 204, None


def _channels(call: RestCall, bridge: Bridge) -> list[ARIChannel]:
    found: list[ARIChannel] = []
    for channel_id in call.get("channel") or []:
        channel = call.server.channels.get(channel_id)
        if channel is None or channel.gone:
            raise ARIFault(400, "Channel not found")
        found.append(channel)
    return found


def _add(call: RestCall) -> Reply:
    bridge = _bridge(call)
    channels = _channels(call, bridge)
    for channel in channels:
        if channel.stasis_app is None or channel.hanging_up:
            raise ARIFault(422, "Channel not in Stasis application")
    for channel in channels:
        call.server.bridges.add(bridge, channel)
    return 204, None


def _remove(call: RestCall) -> Reply:
    bridge = _bridge(call)
    channels = _channels(call, bridge)
    for channel in channels:
        if channel.bridge is not bridge:
            raise ARIFault(422, "Channel not in this bridge")
    for channel in channels:
        call.server.bridges.leave(channel)
    return 204, None


HANDLERS: dict[str, Handler] = {
    "bridges.list": _list,
    "bridges.create": _create,
    "bridges.createWithId": _create,
    "bridges.get": _get,
    "bridges.destroy": _destroy,
    "bridges.addChannel": _add,
    "bridges.removeChannel": _remove,
}
