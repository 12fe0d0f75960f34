"""Throwaway PostgreSQL and Redis servers that a test starts, stops and starts again on free ports.

The fault tests stop their database and Redis mid-test: that must never be the machine's shared servers
(other tests and people use them), so each test gets its own, in a temporary folder, gone afterwards.
PostgreSQL: `initdb` into the folder (trust authentication, no fsync: nothing here must survive a power cut),
then `pg_ctl start/stop`. PostgreSQL refuses to run as root, so as root the commands run as the `postgres`
user. Redis: `redis-server --port <free> --save '' --appendonly no`, nothing on disk.
Where the programs are missing, the test skips with the reason (fails under CI=true: tests/support.py).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from launcher.stack import free_port
from tests.support import unavailable

POSTGRES_BIN_DIRS = ("/usr/local/bin", "/usr/lib/postgresql/15/bin")
START_TIMEOUT_SECONDS = 20


def _program(name: str, directories: tuple[str, ...] = ()) -> str:
    for directory in directories:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed: the fault tests start their own throwaway server with it")
    return found


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own in a new temporary folder, listening on 127.0.0.1:<free port>.

    The folder is not under pytest's tmp_path: as root, the `postgres` user must be able to reach it, and
    pytest's folders are private to root.
    """

    def __init__(self) -> None:
        # Everything that may skip the test comes before the folder exists, so a skip leaves nothing behind.
        self._initdb = _program("initdb", POSTGRES_BIN_DIRS)
        self._pg_ctl = _program("pg_ctl", POSTGRES_BIN_DIRS)
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root without a `postgres` user: PostgreSQL refuses to run as root")
            self._as_user = [_program("runuser"), "-u", "postgres", "--"]
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="cs-test-postgres-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        completed = subprocess.run(
            [*self._as_user, *command], capture_output=True, text=True, timeout=60, check=False
        )
        if completed.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed: {completed.stderr.strip()}\n{log}")

    def init(self) -> None:
        if self._as_user:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            self._initdb,
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._run(
            self._pg_ctl,
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT_SECONDS),
            "start",
        )

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended (admin shutdown), as in a database restart."""
        self._run(self._pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def remove(self) -> None:
        """Stop the server if it runs, and delete its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class ThrowawayRedis:
    """A redis-server on 127.0.0.1:<free port> that keeps nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self._program = _program("redis-server")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self._program,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on port {self.port}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        self._process = None
