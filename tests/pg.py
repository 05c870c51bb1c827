"""A throwaway PostgreSQL server for the tests, from the installed server binaries.

The cluster lives in a temporary directory, listens on a free port of 127.0.0.1 (and a Unix
socket in its own directory), runs with ``fsync=off``, and is removed when stopped.
PostgreSQL refuses to run as root: as root, the binaries run as the ``postgres`` user (the
Debian package creates it) with ``runuser``, on a directory that user owns.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg2

ENSURE_SCRIPT = "scripts/ensure-postgres.sh"


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def find_bindir() -> Path:
    """Where ``initdb``, ``pg_ctl`` and ``postgres`` are: ``pg_config --bindir``."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        raise PostgresMissing(f"pg_config is not on PATH: run {ENSURE_SCRIPT}")
    bindir = Path(
        subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
        .stdout.strip()
    )
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (bindir / b).is_file()]
    if missing:
        raise PostgresMissing(
            f"{', '.join(missing)} missing from {bindir} (pg_config --bindir):"
            f" run {ENSURE_SCRIPT} to install the PostgreSQL server"
        )
    return bindir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresCluster:
    """One throwaway cluster: :meth:`start` it, make databases, :meth:`stop` (and remove) it."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="gtx-pg-"))
        self.run_dir = self.base / "run"  # the server's: sockets, log, data
        self.data = self.run_dir / "data"
        self.log = self.run_dir / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        self._names = itertools.count(1)
        self.run_dir.mkdir()
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            self.base.chmod(0o755)
            os.chown(self.run_dir, user.pw_uid, user.pw_gid)
        self.run_dir.chmod(0o700)

    def _pg(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, cwd=self.run_dir, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log[-2000:]}"
            )

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.run_dir} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                 "-w", "-t", "30", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; return its URL."""
        name = f"gtx_test_{next(self._names)}"
        connection = psycopg2.connect(self.url(), connect_timeout=5)
        try:
            connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        finally:
            connection.close()
        return self.url(name)
