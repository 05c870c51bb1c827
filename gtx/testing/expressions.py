"""Channel variables, built-in variables and dialplan functions, as GET VARIABLE, GET FULL
VARIABLE and SET VARIABLE see them.

Supported: plain channel variables; the built-ins CALLERID(num), UNIQUEID, CHANNEL, CONTEXT,
EXTEN, PRIORITY, EPOCH, LANGUAGE, HANGUPCAUSE; the functions CALLERID(num|name|all|dnid|rdnis),
CHANNEL(name|peername|uniqueid|language|state|context|exten|priority|accountcode),
IAXVAR(NAME), PJSIP_HEADER(read,NAME), DB(family/key), LEN(text), DB_EXISTS(family/key),
SET(NAME=value), ``${VAR:offset:length}`` substrings. Anything else reads as empty (a function
Asterisk does not know), like a real Asterisk logs an error and substitutes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping

from gtx.testing.emulated_channel import STATE_UP, EmulatedChannel

_STATE_NAMES = {0: "Down", 4: "Ringing", 5: "Ring", 6: "Up", 7: "Busy"}

#: The in-memory AstDB: (family, key) → value.
AstDB = MutableMapping[tuple[str, str], str]


def read_variable(
    channel: EmulatedChannel, name: str, db: AstDB, epoch: Callable[[], float]
) -> str | None:
    """GET VARIABLE: a function when the name ends with ``)``, else a variable or built-in;
    None when unset."""
    if name.endswith(")"):
        return read_function(channel, name, db, epoch)
    if name in channel.variables:
        return channel.variables[name]
    return _builtin(channel, name, epoch)


def _builtin(channel: EmulatedChannel, name: str, epoch: Callable[[], float]) -> str | None:
    builtins: dict[str, Callable[[], str | None]] = {
        "UNIQUEID": lambda: channel.uniqueid,
        "CHANNEL": lambda: channel.name,
        "CONTEXT": lambda: channel.context,
        "EXTEN": lambda: channel.extension,
        "PRIORITY": lambda: str(channel.priority),
        "LANGUAGE": lambda: channel.language,
        "EPOCH": lambda: str(int(epoch())),
        "HANGUPCAUSE": lambda: str(channel.hangup_cause) if channel.hung_up else "0",
        "CALLERID(num)": lambda: channel.caller_number,
        "CALLERID(name)": lambda: channel.caller_name,
    }
    getter = builtins.get(name)
    return getter() if getter is not None else None


def read_function(
    channel: EmulatedChannel, call: str, db: AstDB, epoch: Callable[[], float]
) -> str | None:
    """Evaluate ``NAME(args)``; None when the function is unknown or has no value."""
    name, _, rest = call.partition("(")
    argument = rest[:-1] if rest.endswith(")") else rest
    function = _FUNCTIONS.get(name.strip().upper())
    return function(channel, argument, db) if function is not None else None


def _pjsip_header(channel: EmulatedChannel, argument: str, db: AstDB) -> str | None:
    action, _, header = argument.partition(",")
    if action.strip().lower() != "read":
        return None
    return channel.inherited.get(f"PJSIP_HEADER({header.strip()})")


def _db(channel: EmulatedChannel, argument: str, db: AstDB) -> str | None:
    family, _, key = argument.partition("/")
    return db.get((family, key))


_FUNCTIONS: dict[str, Callable[[EmulatedChannel, str, AstDB], str | None]] = {
    "CALLERID": lambda ch, arg, db: _callerid(ch, arg.strip().lower()),
    "CHANNEL": lambda ch, arg, db: _channel_field(ch, arg.strip().lower()),
    "IAXVAR": lambda ch, arg, db: ch.inherited.get(f"IAXVAR({arg.strip()})"),
    "PJSIP_HEADER": _pjsip_header,
    "DB": _db,
    "DB_EXISTS": lambda ch, arg, db: "1" if _db(ch, arg, db) is not None else "0",
    "LEN": lambda ch, arg, db: str(len(arg)),
    "EXISTS": lambda ch, arg, db: "1" if arg else "0",
}


def _callerid(channel: EmulatedChannel, field: str) -> str | None:
    if field in ("num", "number"):
        return channel.caller_number
    if field == "name":
        return channel.caller_name
    if field == "all":
        name, number = channel.caller_name or "", channel.caller_number or ""
        return f'"{name}" <{number}>' if name else f"<{number}>"
    if field == "dnid":
        return channel.dnid
    if field == "rdnis":
        return channel.rdnis
    return None


def _channel_field(channel: EmulatedChannel, field: str) -> str | None:
    fields: dict[str, Callable[[], str]] = {
        "name": lambda: channel.name,
        "peername": lambda: channel.peer,
        "uniqueid": lambda: channel.uniqueid,
        "language": lambda: channel.language,
        "state": lambda: _STATE_NAMES.get(channel.state, "Unknown"),
        "context": lambda: channel.context,
        "exten": lambda: channel.extension,
        "priority": lambda: str(channel.priority),
        "accountcode": lambda: channel.accountcode,
        "channeltype": lambda: channel.name.split("/", 1)[0],
        "musicclass": lambda: channel.moh_class or "default",
    }
    getter = fields.get(field)
    return getter() if getter is not None else None


def write_variable(channel: EmulatedChannel, name: str, value: str) -> None:
    """SET VARIABLE / Set(): a plain variable, or a writable function."""
    if not name.endswith(")"):
        channel.set_variable(name, value)
        return
    function, _, rest = name.partition("(")
    argument = rest[:-1].strip()
    function = function.strip().upper()
    if function in ("IAXVAR", "PJSIP_HEADER"):
        key = argument if function == "IAXVAR" else argument.partition(",")[2].strip()
        channel.inherited[f"{function}({key})"] = value  # crosses to the called channel
    elif function == "CALLERID" and argument.lower() in ("num", "number"):
        channel.caller_number = value
    elif function == "CALLERID" and argument.lower() == "name":
        channel.caller_name = value
    elif function == "CHANNEL" and argument.lower() == "language":
        channel.language = value
    elif function == "CHANNEL" and argument.lower() == "musicclass":
        channel.moh_class = value


def substitute(channel: EmulatedChannel, text: str, db: AstDB, epoch: Callable[[], float]) -> str:
    """Expand every ``${…}`` of ``text`` (innermost first), as GET FULL VARIABLE does."""
    out: list[str] = []
    index = 0
    while index < len(text):
        start = text.find("${", index)
        if start < 0:
            out.append(text[index:])
            break
        out.append(text[index:start])
        end = _closing_brace(text, start + 2)
        if end < 0:  # unbalanced: Asterisk keeps the rest as is
            out.append(text[start:])
            break
        inner = substitute(channel, text[start + 2 : end], db, epoch)
        out.append(_evaluate(channel, inner, db, epoch))
        index = end + 1
    return "".join(out)


def _closing_brace(text: str, index: int) -> int:
    depth = 1
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def _evaluate(channel: EmulatedChannel, inner: str, db: AstDB, epoch: Callable[[], float]) -> str:
    name, offset, length = inner, None, None
    if not inner.endswith(")") and ":" in inner:
        name, _, spec = inner.partition(":")
        first, _, second = spec.partition(":")
        offset = int(first or 0) if _is_int(first or "0") else 0
        length = int(second) if second and _is_int(second) else None
    if name.endswith(")"):
        value = read_function(channel, name, db, epoch) or ""
    else:
        value = read_variable(channel, name, db, epoch) or ""
    if offset is not None:
        value = value[offset:]
        if length is not None:
            value = value[:length]
    return value


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def channel_is_up(channel: EmulatedChannel) -> bool:
    """Whether the channel is answered and still there."""
    return channel.state == STATE_UP and not channel.hung_up
