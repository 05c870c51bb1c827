"""The child processes of the IVR benchmark: the stub web service and the systems under test.

A :class:`Child` is ready once it printed ``listening on PORT`` (or, with ``port``, once that
port accepts connections); every child still running is stopped when the benchmark exits,
whatever happened.
"""

from __future__ import annotations

import atexit
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

_RUNNING: list[Child] = []


class Child:
    """A subprocess of the benchmark. It is ready once it printed ``listening on PORT`` (or,
    with ``port``, once that port accepts connections); :meth:`stop` ends it, and every child
    still running is killed when the benchmark exits, whatever happened."""

    def __init__(self, name: str, argv: list[str], workdir: Path, *, port: int | None = None,
                 ready_within: float = 30.0) -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=log if port else subprocess.PIPE, stderr=log)
        _RUNNING.append(self)
        self.port = port or 0
        deadline = time.monotonic() + ready_within
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)  # the reactor is not running yet: nothing else to do

    @property
    def pid(self) -> int:
        return self.process.pid

    def _ready(self) -> bool:
        if self.port:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0
        assert self.process.stdout is not None
        if not select.select([self.process.stdout], [], [], 0.05)[0]:
            return False
        line = self.process.stdout.readline().decode()
        if line.startswith("listening on "):
            self.port = int(line.split()[-1])
            return True
        return False

    def stop(self) -> None:
        """Close its stdin (the children stop on that), then SIGTERM, then SIGKILL."""
        if self in _RUNNING:
            _RUNNING.remove(self)
        if self.process.poll() is None:
            try:
                if self.process.stdin is not None:
                    self.process.stdin.close()
                self.process.terminate()
                self.process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)


@atexit.register
def _kill_children() -> None:
    for child in list(_RUNNING):
        child.stop()


def free_port() -> int:
    """A TCP port of 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_stub(workdir: Path) -> Child:
    """The web service of the benchmark IVR, in its own process."""
    return Child("stub", [sys.executable, str(HERE / "stub_service.py")], workdir)
