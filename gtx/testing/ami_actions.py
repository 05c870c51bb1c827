"""The AMI actions the emulated server answers, with Asterisk's own replies and errors.

Each handler takes the server, the session and the action message and writes its response
(then its list events, for the list actions). The texts are those of manager.c / app_queue.c
as seen in the reference transcripts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from gtx.testing import ami_mixmonitor, ami_queue_actions
from gtx.testing.ami_calls import PlacedCall
from gtx.testing.ami_events import AMIMessage, event, var_set_event
from gtx.testing.ami_events import action_error as error
from gtx.testing.ami_events import action_response as response
from gtx.testing.ami_originate import OriginateParams
from gtx.testing.ami_server import AMISession, EmulatedAMIServer
from gtx.testing.applications import split_app_args

Handler = Callable[[EmulatedAMIServer, AMISession, AMIMessage], None]


def _tv(epoch: float) -> str:
    stamp = datetime.fromtimestamp(epoch, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


def run_action(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    """Answer one action message."""
    name = action.get("Action")
    if not name:
        session.send(error(action, "Missing action in request"))
        return
    key = name.lower()
    if not session.authenticated and key not in ("login", "logoff", "challenge"):
        session.send(error(action, "Permission denied"))
        return
    handler = HANDLERS.get(key)
    if handler is None:
        _unknown(server, session, action, name)
        return
    handler(server, session, action)


def _unknown(server: EmulatedAMIServer, session: AMISession, action: AMIMessage, name: str) -> None:
    session.send(error(
        action, f"Invalid/unknown command: {name}. Use Action: ListCommands to show available "
        "commands."))
    session.send_event(event("RequestBadFormat", "security,all", [
        ("EventTV", _tv(server.asterisk.epoch())),
        ("Severity", "Error"),
        ("Service", "AMI"),
        ("EventVersion", "1"),
        ("SessionID", session.session_id),
        ("LocalAddress", session.address(peer=False)),
        ("RemoteAddress", session.address(peer=True)),
        ("RequestType", f"Action: {name}"),
        ("SessionTV", _tv(session.connected_at)),
        ("AccountID", session.username or ""),
    ]))


# -- connection --------------------------------------------------------------------------------


def _login(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    username = action.get("Username") or ""
    secret = action.get("Secret")
    if server.refuse_logins or username not in server.users or server.users[username] != secret:
        session.send(error(action, "Authentication failed"))
        session.close()  # Asterisk drops the connection after a failed login
        return
    session.username = username
    session.authenticated = True
    session.send(response(action, "Success", ("Message", "Authentication accepted")))
    uptime = str(int(server.asterisk.epoch() - server.started) + 47)
    session.send_event(event("FullyBooted", "system,all", [
        ("Uptime", uptime), ("LastReload", uptime), ("Status", "Fully Booted")]))
    now = _tv(server.asterisk.epoch())
    server.emit(event("SuccessfulAuth", "security,all", [
        ("EventTV", now),
        ("Severity", "Informational"),
        ("Service", "AMI"),
        ("EventVersion", "1"),
        ("AccountID", username),
        ("SessionID", session.session_id),
        ("LocalAddress", session.address(peer=False)),
        ("RemoteAddress", session.address(peer=True)),
        ("UsingPassword", "0"),
        ("SessionTV", _tv(session.connected_at)),
    ]))


def _logoff(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    session.send(response(action, "Goodbye", ("Message", "Thanks for all the fish.")))
    session.close()


def _ping(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    stamp = server.asterisk.epoch()
    session.send(response(action, "Success", ("Ping", "Pong"), ("Timestamp", f"{stamp:.6f}")))


# -- calls -------------------------------------------------------------------------------------


def _originate(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    dial = action.get("Channel")
    if not dial:
        session.send(error(action, "Channel not specified"))
        return
    if "/" not in dial:
        session.send(error(action, "Invalid channel"))
        return
    try:
        timeout = int(action.get("Timeout") or "30000") / 1000
        priority = int(action.get("Priority") or "1")
    except ValueError:
        session.send(error(action, "Invalid timeout"))
        return
    if timeout <= 0:
        session.send(error(action, "Invalid timeout"))
        return
    context, exten = action.get("Context"), action.get("Exten")
    application = action.get("Application")
    if application is None and f"{context},{exten}" not in server.dialplan:
        session.send(error(action, "Extension does not exist."))
        return
    caller_name, caller_num = _split_caller_id(action.get("CallerID"))
    variables = []
    for line in action.get_all("Variable"):
        # manager.c splits every Variable: header like application arguments: commas
        # separate assignments, and quotes and backslashes are removed (escape a comma as \,).
        for assignment in split_app_args(line):
            name, equals, value = assignment.partition("=")
            if name and equals:
                variables.append((name, value))
    params = OriginateParams(
        dial_string=dial,
        context=context,
        exten=exten,
        priority=priority,
        application=application,
        data=action.get("Data") or "",
        timeout=timeout,
        caller_num=caller_num,
        caller_name=caller_name,
        variables=tuple(variables),
        action_id=action.get("ActionID"),
        channel_id=action.get("ChannelId"),
        other_channel_id=action.get("OtherChannelId"),
        is_async=(action.get("Async") or "").lower() in ("true", "yes", "1", "on"),
    )
    destination = server.destination_for(dial, params.number)
    if params.is_async:
        call = PlacedCall(server, params, destination)
        session.send(response(action, "Success", ("Message", "Originate successfully queued")))
    else:
        session.hold_events()

        def outcome(answered: bool) -> None:
            if answered:
                session.send(response(
                    action, "Success", ("Message", "Originate successfully queued")))
            else:
                session.send(error(action, "Originate failed"))
            session.release_events()

        call = PlacedCall(server, params, destination, on_outcome=outcome)
    server.call_placed(call)
    call.start()


def _split_caller_id(text: str | None) -> tuple[str | None, str | None]:
    """``"Alice" <5551234>`` → (Alice, 5551234); a bare number → (None, number)."""
    if not text:
        return None, None
    match = re.fullmatch(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*', text)
    if match is None:
        return None, text.strip()
    return match.group(1) or None, match.group(2) or None


def _hangup(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    name = action.get("Channel") or ""
    try:
        cause = int(action.get("Cause") or "0")
    except ValueError:
        cause = 0
    if len(name) > 1 and name.startswith("/") and name.endswith("/"):
        try:
            pattern = re.compile(name[1:-1])
        except re.error:
            session.send(error(action, "Invalid regex"))
            return
        matched = [c for c in server.live_channels() if pattern.search(c.name)]
        session.send(response(action, "Success", ("Message", f"Channels hung up: {len(matched)}")))
        for channel in matched:
            found = server.find_channel(channel.name)
            if found is not None:
                found[1].manager_hangup(found[0], cause)
        return
    if not name:
        session.send(error(action, "No channel specified"))
        return
    found = server.find_channel(name)
    if found is None:
        session.send(error(action, "No such channel"))
        return
    session.send(response(action, "Success", ("Message", "Channel Hungup")))
    found[1].manager_hangup(found[0], cause)


def _getvar(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    variable = action.get("Variable")
    if not variable:
        session.send(error(action, "No variable specified"))
        return
    name = action.get("Channel")
    if name:
        found = server.find_channel(name)
        if found is None:
            session.send(error(action, "No such channel"))
            return
        channel = found[0]
        special = {"UNIQUEID": channel.uniqueid, "CHANNEL": channel.name}
        value = special.get(variable, channel.variables.get(variable, ""))
    else:
        value = server.global_variables.get(variable, "")
    session.send(response(action, "Success", ("Variable", variable), ("Value", value)))


def _setvar(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    variable = action.get("Variable")
    if not variable:
        session.send(error(action, "No variable specified"))
        return
    value = action.get("Value") or ""
    name = action.get("Channel")
    if not name:
        server.global_variables[variable] = value
        session.send(response(action, "Success", ("Message", "Variable Set")))
        return
    found = server.find_channel(name)
    if found is None:
        session.send(error(action, "No such channel"))
        return
    session.send(response(action, "Success", ("Message", "Variable Set")))
    found[0].variables[variable] = value
    server.emit(var_set_event(found[0], variable, value))


def _core_show_channels(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    session.send(response(action, "Success", ("EventList", "start"),
                          ("Message", "Channels will follow")))
    tail = [("ActionID", v) for v in [action.get("ActionID")] if v is not None]
    now = server.asterisk.clock.seconds()
    channels = list(reversed(server.live_channels()))  # newest first, as Asterisk lists them
    for channel in channels:
        seconds = int(max(now - channel.created, 0) / (server.asterisk.time_scale or 1))
        duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        session.send(AMIMessage([
            ("Event", "CoreShowChannel"),
            *tail,
            *channel.snapshot(),
            ("Application", channel.application),
            ("ApplicationData", channel.app_data),
            ("Duration", duration),
            ("BridgeId", ""),
        ]))
    session.send(AMIMessage([("Event", "CoreShowChannelsComplete"), *tail,
                             ("EventList", "Complete"), ("ListItems", str(len(channels)))]))


def _user_event(server: EmulatedAMIServer, session: AMISession, action: AMIMessage) -> None:
    name = action.get("UserEvent")
    if not name:
        session.send(error(action, "UserEvent needs a name"))
        return
    session.send(response(action, "Success"))
    skip = {"action", "actionid", "userevent"}
    fields = [(k, v) for k, v in action if k.lower() not in skip]
    server.emit(AMIMessage([("Event", "UserEvent"), ("Privilege", "user,all"),
                            ("UserEvent", name), *fields]))


HANDLERS: dict[str, Handler] = {
    "login": _login,
    "logoff": _logoff,
    "ping": _ping,
    "originate": _originate,
    "hangup": _hangup,
    "getvar": _getvar,
    "setvar": _setvar,
    "coreshowchannels": _core_show_channels,
    "userevent": _user_event,
    **ami_queue_actions.HANDLERS,
    **ami_mixmonitor.HANDLERS,
}
