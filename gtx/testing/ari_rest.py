"""REST operations of the emulated ARI server on channels (but media, originate and
recording), on the server (``asterisk``) and on applications.

Answers and error messages are resource_channels.c's: 404 ``Channel not found``, 409
``Channel not in Stasis application``, 412 ``Channel in invalid state`` (an outbound channel
still Down or Ringing), ``getChannelVar`` of an unset variable 404 ``Provided variable was not
found`` (of an unknown channel ``Provided channel was not found``); a function
(``CALLERID(dnid)``, ``IAXVAR(GTX_SESSION)``, ``PJSIP_HEADER(read,X-GTX-Session)``…) is
evaluated like the FastAGI emulator's GET VARIABLE does, but one whose read fails answers 500
``Unable to read provided function`` (``ast_func_read2`` failing): a function the emulator does
not know, and ``PJSIP_HEADER(read,X-NAME)`` when the call carries no such header (or is not a
PJSIP call), as func_pjsip_header.c returns -1 then.
"""

from __future__ import annotations

from typing import Any

from gtx.testing.ari_model import (
    HANGUP_REASONS,
    SOFTHANGUP_EXPLICIT,
    ARIChannel,
    ARIFault,
    Handler,
    Reply,
    RestCall,
)
from gtx.testing.expressions import read_variable
from gtx.testing.pbx import ASTERISK_VERSION


def _list(call: RestCall) -> Reply:
    return 200, [c.to_json() for c in call.server.channels.values() if not c.gone]


def _get(call: RestCall) -> Reply:
    return 200, call.channel().to_json()


def _hangup(call: RestCall) -> Reply:
    channel = call.channel()
    reason, code = call.get("reason"), call.get("reason_code")
    if reason and code:
        raise ARIFault(400, "The reason and reason_code can't both be specified")
    if code:
        try:
            cause = int(code)
        except ValueError:
            raise ARIFault(400, "Invalid reason for hangup reason code provided") from None
    elif reason:
        if reason not in HANGUP_REASONS:
            raise ARIFault(400, "Invalid reason for hangup reason provided")
        cause = HANGUP_REASONS[reason]
    else:
        cause = 16
    channel.media.note("media", f"hung up by ARI (cause {cause})")
    call.server.calls.hangup(channel, cause, request_cause=SOFTHANGUP_EXPLICIT, soft=True,
                             source="ari")
    return 204, None


def _answer(call: RestCall) -> Reply:
    channel = call.live()
    if channel.state != "Up":
        call.server.calls.set_state(channel, "Up")
    return 204, None


def _get_variable(call: RestCall) -> Reply:
    name = call.get("variable") or ""
    if not name:
        raise ARIFault(400, "Variable name is required")
    channel = call.channel(message="Provided channel was not found")
    server = call.server
    value = read_variable(channel.media, name, server.asterisk.db, server.epoch)
    if value is None:
        if name.endswith(")"):
            if not _known_function(name) or _function_name(name) == "PJSIP_HEADER":
                raise ARIFault(500, "Unable to read provided function")
            value = ""
        else:
            raise ARIFault(404, "Provided variable was not found")
    return 200, {"value": value}


def _function_name(name: str) -> str:
    return name.partition("(")[0].strip().upper()


def _known_function(name: str) -> bool:
    return _function_name(name) in ("CALLERID", "CHANNEL", "IAXVAR", "PJSIP_HEADER", "DB",
                                    "DB_EXISTS", "LEN", "EXISTS")


def _set_variable(call: RestCall) -> Reply:
    name = call.get("variable") or ""
    if not name:
        raise ARIFault(400, "Variable name is required")
    channel = call.controlled()
    call.server.calls.set_variable(channel, name, call.get("value") or "")
    return 204, None


def _get_variables(call: RestCall) -> Reply:
    channel = call.channel(message="Provided channel was not found")
    server = call.server
    values: dict[str, str] = {}
    for name in call.get("variables") or []:
        value = read_variable(channel.media, name, server.asterisk.db, server.epoch)
        if value is not None:
            values[name] = value
    return 200, values


def _set_variables(call: RestCall) -> Reply:
    variables = call.get("variables")
    if not isinstance(variables, dict) or not all(isinstance(v, str)
                                                  for v in variables.values()):
        raise ARIFault(400, "Only string values in the 'variables' object allowed")
    channel = call.controlled()
    for name, value in variables.items():
        call.server.calls.set_variable(channel, str(name), value)
    return 204, None


def _continue(call: RestCall) -> Reply:
    channel = call.live()
    context, exten = call.get("context") or "", call.get("extension") or ""
    label, priority = call.get("label"), call.get("priority")
    if not context:
        context, exten = channel.media.context, exten or channel.media.extension
    else:
        exten = exten or "s"
    if label:
        try:
            where = int(label)
        except ValueError:
            raise ARIFault(404, "Requested label can not be found") from None
    elif priority:
        where = int(priority)
    elif not call.get("context") and not call.get("extension"):
        where = channel.media.priority + 1
    else:
        where = 1
    call.server.dialplan.continue_at(channel, (context, exten, where))
    return 204, None


def _redirect(call: RestCall) -> Reply:
    channel = call.live()
    endpoint = call.get("endpoint") or ""
    tech, slash, resource = endpoint.partition("/")
    if not slash or not tech:
        raise ARIFault(422, f"Endpoint parameter '{endpoint}' does not contain tech/resource")
    if not resource:
        raise ARIFault(422, f"No resource provided in endpoint parameter '{endpoint}'")
    own = channel.name.partition("/")[0]
    if own.lower() != tech.lower():
        raise ARIFault(422, f"Endpoint technology '{tech}' does not match channel technology "
                            f"'{own}'")
    call.server.dialplan.redirect(channel, endpoint)
    return 204, None


def _move(call: RestCall) -> Reply:
    channel = call.controlled()
    server = call.server
    args = [a for a in (call.get("appArgs") or "").split(",") if a] if call.get("appArgs") \
        else []
    server.calls.leave_stasis(channel)
    if not server.calls.enter_stasis(channel, call.get("app"), args):
        raise ARIFault(500, "Failed to switch Stasis applications")
    return 204, None


# -- asterisk ---------------------------------------------------------------------------------


def _info(call: RestCall) -> Reply:
    server = call.server
    started = server.startup_time
    info: dict[str, Any] = {
        "build": {"os": "Linux", "kernel": "6.18.44-fc-v595", "machine": "x86_64",
                  "options": "OPTIONAL_API", "date": "2026-11-21 23:39:45 UTC",
                  "user": "root"},
        "system": {"version": ASTERISK_VERSION, "entity_id": server.asterisk_id},
        "config": {"name": "", "default_language": "en",
                   "setid": {"user": "root", "group": "root"}},
        "status": {"startup_time": started, "last_reload_time": started},
    }
    only = call.get("only")
    if only:
        info = {k: v for k, v in info.items() if k in only}
    return 200, info


def _ping(call: RestCall) -> Reply:
    from gtx.testing.ari_model import ari_timestamp

    return 200, {"asterisk_id": call.server.asterisk_id, "ping": "pong",
                 "timestamp": ari_timestamp(call.server.epoch())}


# -- applications -----------------------------------------------------------------------------


def _application_json(call: RestCall, name: str) -> dict[str, Any]:
    channels = sorted(c.id for c in call.server.channels.values()
                      if name in c.subscribers or c.stasis_app == name)
    bridges = sorted(b.id for b in call.server.bridges.bridges.values() if name in b.subscribers)
    return {"name": name, "channel_ids": channels, "bridge_ids": bridges, "endpoint_ids": [],
            "device_names": [], "events_allowed": [], "events_disallowed": []}


def _app(call: RestCall) -> str:
    name = str(call.get("applicationName"))
    if not call.server.app_connected(name):
        raise ARIFault(404, "Application not found")
    return name


def _applications(call: RestCall) -> Reply:
    return 200, [_application_json(call, name) for name in call.server.connected_apps]


def _application(call: RestCall) -> Reply:
    return 200, _application_json(call, _app(call))


def _subscription(subscribe: bool) -> Handler:
    def handler(call: RestCall) -> Reply:
        name = _app(call)
        sources = call.get("eventSource") or []
        targets: list[ARIChannel | Any] = []
        for source in sources:
            scheme, _, ident = source.partition(":")
            if scheme == "channel":
                target: Any = call.server.channels.get(ident)
            elif scheme == "bridge":
                target = call.server.bridges.bridges.get(ident)
            else:
                raise ARIFault(400, "Invalid event source URI scheme")
            if target is None:
                raise ARIFault(422, "Event source does not exist")
            targets.append(target)
        for target in targets:
            if subscribe:
                target.subscribers.add(name)
            else:
                target.subscribers.discard(name)
        return 200, _application_json(call, name)

    return handler


HANDLERS: dict[str, Handler] = {
    "channels.list": _list,
    "channels.get": _get,
    "channels.hangup": _hangup,
    "channels.answer": _answer,
    "channels.getChannelVar": _get_variable,
    "channels.setChannelVar": _set_variable,
    "channels.getChannelVars": _get_variables,
    "channels.setChannelVars": _set_variables,
    "channels.continueInDialplan": _continue,
    "channels.redirect": _redirect,
    "channels.move": _move,
    "asterisk.getInfo": _info,
    "asterisk.ping": _ping,
    "applications.list": _applications,
    "applications.get": _application,
    "applications.subscribe": _subscription(True),
    "applications.unsubscribe": _subscription(False),
}
