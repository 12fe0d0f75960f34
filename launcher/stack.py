"""Start the service's processes, wait until each answers its health check, and stop them as one unit.

The one way this repository starts cs_backend, the Rasa action server and the Rasa server: `python -m
launcher` (`make run`) starts all three, the end-to-end tests do the same on free ports, and the action tests
start only cs_backend (`backend_spec`). Each process runs in its own process group, so stopping
it (SIGTERM, then SIGKILL after a grace period) also stops whatever it started.

Standard library only, and Python 3.10: both environments import it (the backend's CPython 3.11 runs the
launcher and the end-to-end tests, the bot's CPython 3.10 runs the action tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
BOT_VENV = REPO_ROOT / ".venv-bot"
BACKEND_VENV = REPO_ROOT / ".venv-backend"
BACKEND_PYTHON = BACKEND_VENV / "bin" / "python"
DEFAULT_MODEL = REPO_ROOT / "models" / "assistant.tar.gz"
DEFAULT_EVENTS_DB = REPO_ROOT / "var" / "rasa_events.db"
DEFAULT_ENDPOINTS = REPO_ROOT / "endpoints.yml"
STOP_GRACE_SECONDS = 15.0
READY_POLL_SECONDS = 0.5
EXIT_POLL_SECONDS = 0.2
PROBE_TIMEOUT_SECONDS = 2.0
PUMP_JOIN_SECONDS = 5.0


class StartupError(RuntimeError):
    """A process exited before it was ready, or not every process was ready in time."""


class StartupInterrupted(Exception):
    """The caller asked to stop while the processes were starting; every started process has been stopped."""


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the service and how to tell that it is ready."""

    name: str
    argv: Sequence[str]
    ready_url: str
    env: Mapping[str, str] = field(default_factory=dict)
    # Extra readiness condition on the health response body (e.g. "a model is loaded").
    ready_check: Callable[[bytes], bool] | None = None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it), for a process started right after."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Ports:
    """Where the three processes listen; each finds the others through these (see `service_env`)."""

    backend: int = 8000
    actions: int = 5055
    rasa: int = 5005
    host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Ports:
        """The launcher's configuration: CS_BACKEND_HOST, CS_BACKEND_PORT, ACTION_SERVER_PORT, RASA_PORT."""
        return cls(
            backend=int(env.get("CS_BACKEND_PORT", "8000")),
            actions=int(env.get("ACTION_SERVER_PORT", "5055")),
            rasa=int(env.get("RASA_PORT", "5005")),
            host=env.get("CS_BACKEND_HOST", "127.0.0.1"),
        )

    @classmethod
    def pick_free(cls, host: str = "127.0.0.1") -> Ports:
        """Three ports nothing listens on, so a test's service cannot collide with a running one."""
        return cls(backend=free_port(host), actions=free_port(host), rasa=free_port(host), host=host)

    def as_env(self) -> dict[str, str]:
        """The variables `from_env` reads: how to hand these ports to `python -m launcher`."""
        return {
            "CS_BACKEND_HOST": self.host,
            "CS_BACKEND_PORT": str(self.backend),
            "ACTION_SERVER_PORT": str(self.actions),
            "RASA_PORT": str(self.rasa),
        }

    @property
    def backend_url(self) -> str:
        return f"http://{self.host}:{self.backend}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa}"


def backend_command(*arguments: str) -> list[str]:
    """argv of a cs_backend command (`serve`, `migrate`, `nudge-stalled`, ...) under the backend's Python."""
    return [str(BACKEND_PYTHON), "-m", "cs_backend", *arguments]


def service_env(ports: Ports, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every process runs with: where the others listen, and Rasa's events database.

    `extra_env` is added last (DATABASE_URL, REDIS_URL, ...). Its RASA_EVENTS_DB, else the caller's, else
    var/rasa_events.db, is the SQLite file Rasa's SQL event broker writes (endpoints.yml) and cs_backend
    reads (RASA_EVENTS_URL, unless the caller set that).
    """
    extra = dict(extra_env or {})
    events_db = extra.pop("RASA_EVENTS_DB", os.environ.get("RASA_EVENTS_DB", str(DEFAULT_EVENTS_DB)))
    return {
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
        # Rasa phones home by default; this service must not depend on outside hosts.
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CS_BACKEND_URL": ports.backend_url,
        "ACTION_SERVER_URL": f"{ports.actions_url}/webhook",
        "RASA_URL": ports.rasa_url,
        "RASA_EVENTS_DB": events_db,
        "RASA_EVENTS_URL": os.environ.get("RASA_EVENTS_URL", f"sqlite:///{events_db}"),
        **extra,
    }


def backend_spec(ports: Ports, env: Mapping[str, str]) -> ProcessSpec:
    """cs_backend, ready when its readiness check (database, live events) passes."""
    return ProcessSpec(
        name="backend",
        argv=backend_command("serve", "--host", ports.host, "--port", str(ports.backend)),
        ready_url=f"{ports.backend_url}/health/ready",
        env=env,
    )


def actions_spec(ports: Ports, env: Mapping[str, str]) -> ProcessSpec:
    """The Rasa action server (the `actions` package), under the bot interpreter."""
    return ProcessSpec(
        name="actions",
        argv=[str(BOT_VENV / "bin" / "rasa"), "run", "actions", "--actions", "actions"]
        + ["--port", str(ports.actions)],
        ready_url=f"{ports.actions_url}/health",
        # rasa-sdk has no host option; its runner reads SANIC_HOST (it binds all interfaces otherwise).
        env={**env, "SANIC_HOST": ports.host},
    )


def _rasa_model_loaded(body: bytes) -> bool:
    try:
        return bool(json.loads(body).get("model_id"))
    except (ValueError, AttributeError):
        return False


def rasa_spec(ports: Ports, env: Mapping[str, str], model: Path, endpoints: str) -> ProcessSpec:
    """The Rasa server with its HTTP API, ready once the model is loaded (not merely listening)."""
    return ProcessSpec(
        name="rasa",
        argv=[str(BOT_VENV / "bin" / "rasa"), "run", "--model", str(model), "--enable-api", "--cors", "*"]
        + ["--interface", ports.host, "--port", str(ports.rasa)]
        + ["--credentials", str(REPO_ROOT / "credentials.yml"), "--endpoints", endpoints],
        ready_url=f"{ports.rasa_url}/status",
        env=env,
        ready_check=_rasa_model_loaded,
    )


def service_specs(
    ports: Ports,
    model: Path = DEFAULT_MODEL,
    extra_env: Mapping[str, str] | None = None,
) -> list[ProcessSpec]:
    """The three processes of the service, wired to each other through `ports`, in start order.

    `extra_env` may also name Rasa's endpoints file, RASA_ENDPOINTS (else the caller's, else endpoints.yml).
    """
    env = service_env(ports, extra_env)
    endpoints = env.pop("RASA_ENDPOINTS", os.environ.get("RASA_ENDPOINTS", str(DEFAULT_ENDPOINTS)))
    return [backend_spec(ports, env), actions_spec(ports, env), rasa_spec(ports, env, model, endpoints)]


def _probe(url: str, check: Callable[[bytes], bool] | None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as response:
            body = response.read()
            return response.status == 200 and (check is None or check(body))
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _never() -> bool:
    return False


class ServiceStack:
    """Starts processes, waits for their health checks, and stops them as one unit.

    Each process's output goes to `log_dir/<name>.log` and, with `echo`, to that stream prefixed with the
    process's name; a thread per process copies it, so the output keeps flowing whatever the caller does.
    """

    def __init__(self, specs: Sequence[ProcessSpec], log_dir: Path | None = None, echo: TextIO | None = None):
        self.specs = list(specs)
        self.log_dir = log_dir
        self.echo = echo
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._pumps: list[threading.Thread] = []
        self._echo_lock = threading.Lock()

    def start(self, timeout: float = 240.0, interrupted: Callable[[], bool] = _never) -> None:
        """Start every process and return once all are ready.

        Raises StartupError if one exits first or `timeout` seconds pass, StartupInterrupted as soon as
        `interrupted()` is true; in either case (and on any other error) the processes are stopped first.
        """
        try:
            for spec in self.specs:
                self._spawn(spec)
            self._wait_ready(time.monotonic() + timeout, timeout, interrupted)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, spec: ProcessSpec) -> None:
        keeps_output = self.log_dir is not None or self.echo is not None
        process = subprocess.Popen(
            list(spec.argv),
            cwd=REPO_ROOT,
            env={**os.environ, **spec.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if keeps_output else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            # Own process group: a terminal Ctrl-C reaches only the launcher, which then stops each child
            # in order instead of all of them racing at once.
            start_new_session=True,
        )
        self.processes[spec.name] = process
        if process.stdout is not None:
            pump = threading.Thread(
                target=self._pump, args=(spec.name, process.stdout), name=f"output-{spec.name}", daemon=True
            )
            pump.start()
            self._pumps.append(pump)

    def _wait_ready(self, deadline: float, timeout: float, interrupted: Callable[[], bool]) -> None:
        pending = list(self.specs)
        while pending:
            for spec in list(pending):
                returncode = self.processes[spec.name].poll()
                if returncode is not None:
                    raise StartupError(
                        f"{spec.name} exited with code {returncode} before it was ready"
                        + (f"; see {self.log_path(spec.name)}" if self.log_dir else "")
                    )
                if _probe(spec.ready_url, spec.ready_check):
                    pending.remove(spec)
            if not pending:
                return
            if interrupted():
                raise StartupInterrupted
            if time.monotonic() > deadline:
                names = ", ".join(spec.name for spec in pending)
                raise StartupError(f"not ready after {timeout:.0f} s: {names}")
            time.sleep(READY_POLL_SECONDS)

    def _pump(self, name: str, output: IO[bytes]) -> None:
        """Copy a process's output to its log file and, when echoing, to the stream with its name."""
        with contextlib.ExitStack() as files:
            files.enter_context(output)
            log_file = None
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                log_file = files.enter_context(open(self.log_path(name), "ab"))
            for line in output:
                if log_file is not None:
                    log_file.write(line)
                    log_file.flush()
                if self.echo is not None:
                    with self._echo_lock:
                        self.echo.write(f"[{name:>7}] {line.decode(errors='replace').rstrip()}\n")
                        self.echo.flush()

    def log_path(self, name: str) -> Path:
        if self.log_dir is None:
            raise ValueError("this stack keeps no logs (log_dir=None)")
        return self.log_dir / f"{name}.log"

    def log_tails(self, chars: int = 3000) -> str:
        """The end of each process's log, to show why a start failed (empty without a log_dir)."""
        if self.log_dir is None:
            return ""
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-chars:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )

    def wait_for_exit(self, stop_requested: Callable[[], bool]) -> str | None:
        """Block until a process exits (return its name) or `stop_requested()` is true (return None)."""
        while not stop_requested():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    return name
            time.sleep(EXIT_POLL_SECONDS)
        return None

    def stop(self) -> None:
        """Stop every process started, last started first; then let the output copies finish."""
        # Rasa first (it calls the action server), then actions, then the backend they both use.
        for process in reversed(list(self.processes.values())):
            _terminate(process)
        for pump in self._pumps:
            pump.join(PUMP_JOIN_SECONDS)
        self._pumps.clear()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group, SIGKILL if it is still there after the grace period."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
