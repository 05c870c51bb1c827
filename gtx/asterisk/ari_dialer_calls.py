"""The ARI requests and events of the dialer's calls, read and written without state (used by
:class:`gtx.asterisk.ari_originator.ARIOriginator`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gtx.asterisk.ari_api import DIALER_CALL
from gtx.asterisk.ari_events import Event
from gtx.origination import OriginateRequest


def originate_params(request: OriginateRequest, app: str) -> dict[str, Any]:
    """The parameters of ``channels.originate`` for ``request`` into Stasis ``app``.

    ``GTX_CALL_ID`` is always among the variables (the dialplan reports with it). Raises
    ``ValueError`` for a request Asterisk could not read."""
    if "/" not in request.dial_string.strip("/"):
        raise ValueError(f"dial string {request.dial_string!r} is not TECH/RESOURCE")
    if request.timeout <= 0:
        raise ValueError(f"ring timeout must be positive, not {request.timeout}")
    variables = {"GTX_CALL_ID": request.call_id, **request.variables}
    for name in variables:
        if not name or "=" in name:
            raise ValueError(f"invalid channel variable name {name!r}")
    params: dict[str, Any] = {
        "endpoint": request.dial_string,
        "app": app,
        "appArgs": DIALER_CALL,
        "channelId": request.call_id,
        "otherChannelId": f"{request.call_id}-2",
        "timeout": int(request.timeout),
        "variables": variables,
    }
    if request.caller_id:
        params["callerId"] = request.caller_id
    return params


def waits_in_stasis(channel: Mapping[str, Any], app: str) -> bool:
    """True for a dialer call answered and waiting in ``Stasis(app,gtx-dialer)``."""
    dialplan = channel.get("dialplan")
    if not isinstance(dialplan, Mapping) or dialplan.get("app_name") != "Stasis":
        return False
    return [a.strip() for a in str(dialplan.get("app_data", "")).split(",")][:2] == [
        app, DIALER_CALL]


def user_event(event: Event) -> tuple[str, dict[str, str]]:
    """The name and the fields of a ``ChannelUserevent`` (``UserEvent(NAME,KEY: value,…)``:
    Asterisk puts the fields in ``userevent``, beside ``eventname``)."""
    fields = event.get("userevent")
    given = fields if isinstance(fields, Mapping) else {}
    name = str(event.get("eventname") or given.get("eventname") or "")
    return name, {str(k): str(v) for k, v in given.items() if k != "eventname"}
