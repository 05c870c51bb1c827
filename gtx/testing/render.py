"""A readable account of an emulated call, as ``gtx simulate`` prints it::

      0.00s  ← AGI environment: agi://127.0.0.1:4573/ivr, Local/agi@gtx-test-00000000;2, …
      0.00s  → STREAM FILE hello-world "#"
      1.40s  ← 200 result=0 endpos=11234
      2.00s  caller presses 1
     12.30s  AGI() returns: AGISTATUS=SUCCESS, dialplan continues at gtx-test,agi,4

``→`` is what the FastAGI server sent, ``←`` what the emulated Asterisk answered.
"""

from __future__ import annotations

from gtx.testing.agi_emulator import CallRecord

_ARROWS = {"received": "→", "sent": "←"}


def render_call(record: CallRecord, *, environment: bool = False) -> str:
    """The call's log, one event a line. ``environment=True`` prints every environment line
    instead of a one-line summary."""
    out: list[str] = []
    events = list(record.events)
    env_end = next((i for i, e in enumerate(events) if e.kind == "sent" and e.text == ""), -1)
    if env_end >= 0:
        env_lines = [e.text for e in events[:env_end]]
        if environment:
            out += [f"{_stamp(0.0)}  ← {line}" for line in env_lines]
        else:
            env = dict(line.split(": ", 1) for line in env_lines if ": " in line)
            caller = env.get("agi_callerid", "unknown")
            summary = ", ".join(
                [env.get("agi_request", ""), env.get("agi_channel", ""), f"caller {caller}"]
            )
            out.append(f"{_stamp(0.0)}  ← AGI environment: {summary}")
        events = events[env_end + 1 :]
    for event in events:
        arrow = _ARROWS.get(event.kind)
        text = f"{arrow} {event.text}" if arrow else event.text
        out.append(f"{_stamp(event.at)}  {text}")
    if record.agi_status == "FAILURE" and not record.events:
        out.append(f"{_stamp(0.0)}  FastAGI connection failed: AGISTATUS=FAILURE")
    context, extension, priority = record.continues_at
    where = "caller hung up" if record.hung_up else f"continues at {context},{extension},{priority}"
    out.append(f"{_stamp(record.duration)}  dialplan {where}")
    return "\n".join(out) + "\n"


def _stamp(seconds: float) -> str:
    return f"{seconds:7.2f}s"
