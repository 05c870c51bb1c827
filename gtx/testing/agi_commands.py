"""What the emulated Asterisk answers to each AGI command (the handlers of res_agi.c).

A handler receives the call and the parsed arguments (``argv[0]`` is the first command word) and
returns its reply line and whether the command *failed* (res_agi's RESULT_FAILURE: on a live
channel that makes AGISTATUS end as FAILURE). It raises :class:`ShowUsage` for bad syntax.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gtx.testing.applications import run_application
from gtx.testing.call import ActiveCall, Recording, character_files, number_files
from gtx.testing.emulated_channel import STATE_UP
from gtx.testing.expressions import read_variable, substitute, write_variable
from gtx.testing.sounds import SAMPLE_RATE


class ShowUsage(Exception):
    """The command's arguments are wrong: Asterisk answers with the 520 usage text."""


Reply = tuple[str, bool]
Handler = Callable[[ActiveCall, list[str]], Awaitable[Reply]]


def _int(text: str) -> int:
    """sscanf("%d"): a leading integer, or ShowUsage."""
    digits = text.strip()
    end = 1 if digits[:1] in "+-" else 0
    while end < len(digits) and digits[end].isdigit():
        end += 1
    try:
        return int(digits[:end])
    except ValueError:
        raise ShowUsage from None


def _atoi(text: str) -> int:
    try:
        return _int(text)
    except ShowUsage:
        return 0


def _ok(line: str, result: int) -> Reply:
    return line, result < 0


async def answer(call: ActiveCall, argv: list[str]) -> Reply:
    if call.channel.hung_up:
        return "200 result=-1", True
    if call.channel.state != STATE_UP:
        call.channel.state = STATE_UP
        call.channel.note("media", "channel answered")
    return "200 result=0", False


async def hangup(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) == 1 or (len(argv) == 2 and argv[1] == call.channel.name):
        call.channel.note("media", "AGI hangs the channel up")
        call.channel.hang_up()
        return "200 result=1", False
    if len(argv) == 2:
        return "200 result=-1", False
    raise ShowUsage


async def stream_file(call: ActiveCall, argv: list[str]) -> Reply:
    if not 4 <= len(argv) <= 5:
        raise ShowUsage
    offset = _int(argv[4]) if len(argv) == 5 else 0
    played = await call.play(argv[2], argv[3], offset)
    call.channel.set_variable("PLAYBACKSTATUS", "FAILED" if played.result < 0 else "SUCCESS")
    return _ok(f"200 result={played.result} endpos={played.endpos}", played.result)


async def control_stream_file(call: ActiveCall, argv: list[str]) -> Reply:
    if not 5 <= len(argv) <= 9:
        raise ShowUsage
    if len(argv) > 5:
        _int(argv[5])
    played = await call.play(argv[2], argv[4])
    status = {0: "SUCCESS", -1: "ERROR"}.get(played.result, "USERSTOPPED")
    call.channel.set_variable("CPLAYBACKSTATUS", status)
    return _ok(f"200 result={played.result}", played.result)


async def get_option(call: ActiveCall, argv: list[str]) -> Reply:
    if not 4 <= len(argv) <= 5:
        raise ShowUsage
    timeout = _atoi(argv[4]) if len(argv) == 5 else 5000
    played = await call.play(argv[2], argv[3])
    result = played.result
    if result == 0:
        result = await call.wait_digit(timeout)
        if result > 0 and chr(result) not in argv[3]:
            result = 0
    return _ok(f"200 result={result} endpos={played.endpos}", result)


async def get_data(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) < 3:
        raise ShowUsage
    timeout = _atoi(argv[3]) if len(argv) >= 4 else 0
    max_digits = _atoi(argv[4]) if len(argv) >= 5 else 1024
    first, inter = (6000, 2000) if timeout == 0 else (timeout, timeout)
    if timeout < 0:
        first = inter = -1
    status, digits = await call.read_digits(argv[2], max_digits, first, inter)
    if status == 1:
        return f"200 result={digits} (timeout)", False
    if status < 0:
        return "200 result=-1", False
    return f"200 result={digits}", False


async def wait_for_digit(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) != 4:
        raise ShowUsage
    result = await call.wait_digit(_int(argv[3]))
    return _ok(f"200 result={result}", result)


def _say(files_of: Callable[[list[str]], list[str]], argc: tuple[int, ...]) -> Handler:
    async def handler(call: ActiveCall, argv: list[str]) -> Reply:
        if len(argv) not in argc:
            raise ShowUsage
        files = files_of(argv)
        result = await call.play_all(files, argv[3])
        return _ok(f"200 result={result}", result)

    return handler


def _digits(argv: list[str]) -> list[str]:
    _int(argv[2])
    return character_files(argv[2])


def _epoch(argv: list[str]) -> int:
    return _int(argv[2])


async def say_date(call: ActiveCall, argv: list[str]) -> Reply:
    return await _say(lambda a: call.date_files(_epoch(a), True, False), (4,))(call, argv)


async def say_time(call: ActiveCall, argv: list[str]) -> Reply:
    return await _say(lambda a: call.date_files(_epoch(a), False, True), (4,))(call, argv)


async def say_datetime(call: ActiveCall, argv: list[str]) -> Reply:
    argc = tuple(range(4, 7))
    return await _say(lambda a: call.date_files(_epoch(a), True, True), argc)(call, argv)


async def record_file(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) < 6:
        raise ShowUsage
    limit_ms = _int(argv[5])
    # ``s=SECONDS`` (silence detection) never fires: the emulated caller sends either no audio
    # (like a Local channel: no voice frames to measure) or constant speech (caller_talks).
    offset_given = len(argv) > 6 and argv[6].lstrip("-").isdigit()
    beep = (len(argv) > 6 and not offset_given and "=" not in argv[6]) or (
        len(argv) > 7 and "=" not in argv[7]
    )
    escape = argv[4]
    if beep:
        played = await call.play("beep", escape)
        if played.result != 0:
            return f"200 result={played.result} (randomerror) endpos=0", False
    limit = None if limit_ms < 0 else limit_ms / 1000
    heard = await call.channel.listen(limit, escape)
    talked = heard.elapsed if call.spec.caller_talks else 0.0
    if heard.hangup:
        reason, line = "hangup", "200 result=-1 (hangup) endpos={}"
    elif heard.digit is not None:
        talked = max(0.0, talked - 0.2)  # Asterisk cuts the 200 ms of the DTMF tone
        reason, line = "dtmf", f"200 result={ord(heard.digit)} (dtmf) endpos={{}}"
    else:
        reason, line = "timeout", "200 result=0 (timeout) endpos={}"
    endpos = round(talked * SAMPLE_RATE)
    call.recordings.append(Recording(argv[2], argv[3], reason, heard.digit, talked, endpos))
    call.channel.note("media", f"recorded {argv[2]}.{argv[3]} ({reason})")
    return line.format(endpos), heard.hangup


async def channel_status(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) == 2 or (len(argv) == 3 and argv[2] == call.channel.name):
        return f"200 result={call.channel.state}", False
    if len(argv) == 3:
        return "200 result=-1", False
    raise ShowUsage


async def set_music(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) < 3:
        raise ShowUsage
    if argv[2].lower().startswith("on"):
        call.channel.moh_class = argv[3] if len(argv) > 3 else "default"
        call.channel.note("media", f"music on hold ({call.channel.moh_class})")
    elif argv[2].lower().startswith("off"):
        call.channel.moh_class = None
    return "200 result=0", False


async def set_context(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) != 3:
        raise ShowUsage
    call.channel.context = argv[2]
    return "200 result=0", False


async def set_extension(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) != 3:
        raise ShowUsage
    call.channel.extension = argv[2]
    return "200 result=0", False


async def set_priority(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) != 3:
        raise ShowUsage
    # ast_explicit_goto inside a running PBX stores priority - 1: the PBX adds one when the
    # application (AGI) returns, so the dialplan continues at exactly this priority.
    call.channel.priority = _int(argv[2]) - 1
    return "200 result=0", False


async def set_callerid(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) > 2:
        text = argv[2].strip()
        name, number = "", text
        if "<" in text and text.endswith(">"):
            name, _, number = text[:-1].partition("<")
            name = name.strip().strip('"')
        elif not any(c.isdigit() for c in text):
            name, number = text, ""
        call.channel.caller_name = name
        call.channel.caller_number = "".join(c for c in number if c not in " -().")
    return "200 result=1", False


async def set_autohangup(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) != 3:
        raise ShowUsage
    seconds = float(_int(argv[2]))
    if seconds > 0:
        call.channel.timeline.call_later(seconds, call.channel.hang_up)
    return "200 result=0", False


async def set_variable(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) < 3:
        raise ShowUsage
    if len(argv) > 3:
        write_variable(call.channel, argv[2], argv[3])
    return "200 result=1", False


async def get_variable(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) != 3:
        raise ShowUsage
    value = read_variable(call.channel, argv[2], call.asterisk.db, call.epoch)
    return ("200 result=0" if value is None else f"200 result=1 ({value})"), False


async def get_full_variable(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) not in (4, 5):
        raise ShowUsage
    if len(argv) == 5 and argv[4] != call.channel.name:
        return "200 result=0", False
    value = substitute(call.channel, argv[3], call.asterisk.db, call.epoch)
    return f"200 result=1 ({value})", False


async def verbose(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) < 2:
        raise ShowUsage
    call.verbose.append(argv[1])
    return "200 result=1", False


async def database_get(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) != 4:
        raise ShowUsage
    value = call.asterisk.db.get((argv[2], argv[3]))
    return ("200 result=0" if value is None else f"200 result=1 ({value})"), False


async def database_put(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) != 5:
        raise ShowUsage
    call.asterisk.db[(argv[2], argv[3])] = argv[4]
    return "200 result=1", False


async def database_del(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) != 4:
        raise ShowUsage
    found = call.asterisk.db.pop((argv[2], argv[3]), None) is not None
    return f"200 result={1 if found else 0}", False


async def database_deltree(call: ActiveCall, argv: list[str]) -> Reply:
    if not 3 <= len(argv) <= 4:
        raise ShowUsage
    family, prefix = argv[2], argv[3] if len(argv) == 4 else ""
    doomed = [k for k in call.asterisk.db if k[0] == family and k[1].startswith(prefix)]
    for key in doomed:
        del call.asterisk.db[key]
    # res_agi answers 0 when something was deleted and 1 when nothing was (sic).
    return f"200 result={0 if doomed else 1}", False


async def exec_application(call: ActiveCall, argv: list[str]) -> Reply:
    if len(argv) < 2:
        raise ShowUsage
    options = argv[2] if len(argv) > 2 else ""
    if call.channel.variables.get("AGIEXECFULL", "").lower() in ("yes", "true", "1", "on"):
        options = substitute(call.channel, options, call.asterisk.db, call.epoch)
    result = await run_application(call, argv[1], options)
    return f"200 result={result}", False


async def noop(call: ActiveCall, argv: list[str]) -> Reply:
    return "200 result=0", False


async def not_supported(call: ActiveCall, argv: list[str]) -> Reply:
    """Text, images, TDD, speech: Local channels support none of them."""
    return "200 result=0", False


HANDLERS: dict[str, Handler] = {
    "ANSWER": answer,
    "HANGUP": hangup,
    "STREAM FILE": stream_file,
    "CONTROL STREAM FILE": control_stream_file,
    "GET OPTION": get_option,
    "GET DATA": get_data,
    "WAIT FOR DIGIT": wait_for_digit,
    "SAY DIGITS": _say(_digits, (4,)),
    "SAY NUMBER": _say(lambda a: number_files(_int(a[2])), (4, 5)),
    "SAY ALPHA": _say(lambda a: character_files(a[2]), (4,)),
    "SAY PHONETIC": _say(lambda a: character_files(a[2], phonetic=True), (4,)),
    "SAY DATE": say_date,
    "SAY TIME": say_time,
    "SAY DATETIME": say_datetime,
    "RECORD FILE": record_file,
    "CHANNEL STATUS": channel_status,
    "SET MUSIC": set_music,
    "SET CONTEXT": set_context,
    "SET EXTENSION": set_extension,
    "SET PRIORITY": set_priority,
    "SET CALLERID": set_callerid,
    "SET AUTOHANGUP": set_autohangup,
    "SET VARIABLE": set_variable,
    "GET VARIABLE": get_variable,
    "GET FULL VARIABLE": get_full_variable,
    "VERBOSE": verbose,
    "DATABASE GET": database_get,
    "DATABASE PUT": database_put,
    "DATABASE DEL": database_del,
    "DATABASE DELTREE": database_deltree,
    "EXEC": exec_application,
    "NOOP": noop,
}
