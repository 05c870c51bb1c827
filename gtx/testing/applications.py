"""Dialplan applications that EXEC can run on the emulated Asterisk.

Each returns what the real application returns (0, or -1 when the caller hung up) and sets the
variables it documents. An application Asterisk would not find answers -2 (``200 result=-2``).

Dial and Queue follow the scripted :class:`~gtx.testing.pbx.DialDestination` and
:class:`~gtx.testing.pbx.QueueBehaviour` of the :class:`~gtx.testing.pbx.EmulatedAsterisk`.
When the called party hangs up after talking, the caller's channel is hung up too unless Dial
has the ``g`` option (Queue: ``c``) — then the application returns 0 and the call goes on.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from twisted.internet.defer import Deferred

from gtx.testing.call import ActiveCall
from gtx.testing.emulated_channel import STATE_UP, Heard
from gtx.testing.expressions import write_variable
from gtx.testing.pbx import DialDestination

Application = Callable[[ActiveCall, list[str]], Awaitable[int]]


def split_app_args(options: str) -> list[str]:
    """Split application arguments on commas, honouring quotes, parentheses and backslashes
    (ast_app_separate_args)."""
    args: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = escaped = False
    for char in options:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char in "([" and not quoted:
            depth += 1
            current.append(char)
        elif char in ")]" and not quoted and depth:
            depth -= 1
            current.append(char)
        elif char == "," and not quoted and not depth:
            args.append("".join(current))
            current = []
        else:
            current.append(char)
    args.append("".join(current))
    return args


def _arg(args: list[str], index: int) -> str:
    return args[index].strip() if len(args) > index else ""


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


async def playback(call: ActiveCall, args: list[str]) -> int:
    failed = False
    for name in _arg(args, 0).split("&"):
        if not name:
            continue
        if call.channel.hung_up:
            failed = True
            break
        failed = failed or (await call.play(name)).result < 0
    call.channel.set_variable("PLAYBACKSTATUS", "FAILED" if failed else "SUCCESS")
    return 0  # Playback reports failures in PLAYBACKSTATUS only


async def wait(call: ActiveCall, args: list[str]) -> int:
    heard = await call.channel.listen(_seconds(_arg(args, 0)) or 0.0)
    return -1 if heard.hangup else 0


async def music_on_hold(call: ActiveCall, args: list[str]) -> int:
    call.channel.moh_class = _arg(args, 0) or "default"
    call.channel.note("media", f"music on hold ({call.channel.moh_class})")
    heard = await call.channel.listen(_seconds(_arg(args, 1)))
    call.channel.moh_class = None
    return -1 if heard.hangup else 0


async def start_music_on_hold(call: ActiveCall, args: list[str]) -> int:
    call.channel.moh_class = _arg(args, 0) or "default"
    return 0


async def stop_music_on_hold(call: ActiveCall, args: list[str]) -> int:
    call.channel.moh_class = None
    return 0


async def send_dtmf(call: ActiveCall, args: list[str]) -> int:
    between = (_seconds(_arg(args, 1)) or 100) / 1000
    duration = (_seconds(_arg(args, 2)) or 250) / 1000
    for digit in _arg(args, 0):
        if digit == "w":
            heard = await call.channel.listen(0.5)
        else:
            heard = await call.channel.listen(duration + between)
            if not heard.hangup:
                call.channel.dtmf_sent.append(digit)
        if heard.hangup:
            return -1
    return 0


async def answer(call: ActiveCall, args: list[str]) -> int:
    call.channel.state = STATE_UP
    return 0


async def hangup(call: ActiveCall, args: list[str]) -> int:
    cause = _arg(args, 0)
    call.channel.hang_up(int(cause) if cause.isdigit() else 16)
    return -1


async def set_(call: ActiveCall, args: list[str]) -> int:
    name, _, value = ",".join(args).partition("=")
    if name.strip():
        write_variable(call.channel, name.strip(), value)
    return 0


async def goto(call: ActiveCall, args: list[str]) -> int:
    parts = [a.strip() for a in args if a.strip()]
    if not parts:
        return -1
    priority = parts[-1]
    if len(parts) >= 3:
        call.channel.context = parts[-3]
    if len(parts) >= 2:
        call.channel.extension = parts[-2]
    call.channel.priority = (int(priority) if priority.isdigit() else 1) - 1
    return 0


async def no_op(call: ActiveCall, args: list[str]) -> int:
    return 0


async def dial(call: ActiveCall, args: list[str]) -> int:
    channel = call.channel
    targets = [t for t in _arg(args, 0).split("&") if t]
    timeout = _seconds(_arg(args, 1))
    options = _arg(args, 2)
    if not targets:
        return -1  # Dial requires an argument: Asterisk logs a warning and returns -1
    started = channel.timeline.now()
    record: dict[str, object] = {"targets": targets, "timeout": timeout, "options": options}
    call.dials.append(record)
    if channel.hung_up:
        return _dial_done(call, record, "CANCEL", started, 0.0, -1)
    channel.note("media", f"Dial {'&'.join(targets)}")
    behaviours = [call.asterisk.destinations.get(t, DialDestination.unavailable()) for t in targets]
    answer_at = min((b.ring_seconds for b in behaviours if b.outcome == "ANSWER"), default=None)
    if answer_at is not None and (timeout is None or answer_at < timeout):
        heard = await channel.listen(answer_at)
        if heard.hangup:
            return _dial_done(call, record, "CANCEL", started, 0.0, -1)
        winner = next(
            b for b in behaviours if b.outcome == "ANSWER" and b.ring_seconds == answer_at
        )
        far_end = None
        if winner.remote is not None:  # another server: the call runs there until it ends
            target = targets[behaviours.index(winner)]
            far_end = winner.remote(target, dict(channel.inherited), channel)
        return await _talk(call, record, started, winner.talk_seconds, options, far_end)
    failures = [b for b in behaviours if b.outcome != "NOANSWER"]
    ends_at: float | None
    if len(failures) == len(behaviours):
        last = max(failures, key=lambda b: b.ring_seconds)
        ends_at, status = last.ring_seconds, last.outcome
        if timeout is not None and ends_at >= timeout:
            ends_at, status = timeout, "NOANSWER"
    else:
        ends_at, status = timeout, "NOANSWER"
    heard = await channel.listen(ends_at)
    if heard.hangup:
        return _dial_done(call, record, "CANCEL", started, 0.0, -1)
    return _dial_done(call, record, status, started, 0.0, 0)


async def _talk(
    call: ActiveCall,
    record: dict[str, object],
    started: float,
    talk: float | None,
    options: str,
    far_end: Deferred[object] | None = None,
) -> int:
    """The bridged call: ``talk`` seconds, or until ``far_end`` (another server's call) ends."""
    channel = call.channel
    limit = re.search(r"L\((\d+)", options)
    if limit is not None:
        cap = int(limit.group(1)) / 1000
        talk = cap if talk is None else min(talk, cap)
    channel.note("media", "called party answers")
    far_end_over: list[bool] = []
    if far_end is not None:

        def over(result: object) -> None:
            far_end_over.append(True)
            channel.stop_listening()

        far_end.addBoth(over)
    heard = Heard(0.0) if far_end_over else await channel.listen(talk)
    if heard.hangup:
        return _dial_done(call, record, "ANSWER", started, heard.elapsed, -1)
    channel.note("media", "called party hangs up")
    if "g" in re.sub(r"\([^)]*\)", "", options):
        return _dial_done(call, record, "ANSWER", started, heard.elapsed, 0)
    result = _dial_done(call, record, "ANSWER", started, heard.elapsed, -1)
    channel.hang_up()  # without g, the caller leaves the bridge hung up too
    return result


def _dial_done(
    call: ActiveCall,
    record: dict[str, object],
    status: str,
    started: float,
    answered: float,
    result: int,
) -> int:
    dialed = call.channel.timeline.now() - started
    # Whole milliseconds first, as Asterisk counts them (ast_tvdiff_ms), then whole seconds:
    # 22.999999999999996 s of float arithmetic are 23000 ms, 23 s.
    answered_ms, dialed_ms = round(answered * 1000), round(dialed * 1000)
    values = {
        "DIALSTATUS": status,
        "ANSWEREDTIME": str(answered_ms // 1000),
        "ANSWEREDTIME_MS": str(answered_ms),
        "DIALEDTIME": str(dialed_ms // 1000),
        "DIALEDTIME_MS": str(dialed_ms),
    }
    for name, value in values.items():
        call.channel.variables[name] = value
    record.update(status=status, answered_seconds=answered, dialed_seconds=dialed)
    call.channel.note("media", f"Dial ends: {status}")
    return result


async def queue(call: ActiveCall, args: list[str]) -> int:
    channel = call.channel
    name, options = _arg(args, 0), _arg(args, 1)
    timeout = _seconds(_arg(args, 4))
    if channel.hung_up:
        return -1
    behaviour = call.asterisk.queues.get(name)
    if behaviour is None:
        channel.set_variable("QUEUESTATUS", "UNKNOWN")
        return 0
    leave_at, status = behaviour.wait_seconds, behaviour.status
    if timeout is not None and timeout <= leave_at:
        leave_at, status = timeout, "TIMEOUT"
    heard = await channel.listen(leave_at)
    if not heard.hangup and status is not None:
        channel.set_variable("QUEUESTATUS", status)
        return 0
    if not heard.hangup:
        channel.note("media", f"queue {name}: an agent answers")
        heard = await channel.listen(behaviour.talk_seconds)
    if heard.hangup:
        return -1
    if "c" in options:
        return 0
    channel.hang_up()  # without c, the caller leaves the bridge hung up too
    return -1


async def conf_bridge(call: ActiveCall, args: list[str]) -> int:
    call.channel.note("media", f"joins conference {_arg(args, 0)}")
    heard = await call.channel.listen(call.asterisk.conference_seconds)
    return -1 if heard.hangup else 0


APPLICATIONS: dict[str, Application] = {
    "playback": playback,
    "wait": wait,
    "musiconhold": music_on_hold,
    "startmusiconhold": start_music_on_hold,
    "stopmusiconhold": stop_music_on_hold,
    "senddtmf": send_dtmf,
    "answer": answer,
    "hangup": hangup,
    "set": set_,
    "goto": goto,
    "noop": no_op,
    "verbose": no_op,
    "log": no_op,
    "ringing": no_op,
    "progress": no_op,
    "mixmonitor": no_op,
    "stopmixmonitor": no_op,
    "dial": dial,
    "queue": queue,
    "confbridge": conf_bridge,
}


async def run_application(call: ActiveCall, name: str, options: str) -> int:
    """Run a dialplan application the way EXEC does; -2 when it does not exist."""
    application = APPLICATIONS.get(name.lower())
    if application is None:
        call.channel.note("media", f"no application {name}")
        return -2
    return await application(call, split_app_args(options))
