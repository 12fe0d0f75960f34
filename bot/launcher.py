"""Start the whole service: cs_backend, the Rasa action server and the Rasa server.

`make run` calls this after the environments are installed, the model trained and the database migrated:

    python -m bot.launcher

It starts the three processes, waits until each answers its health check, prints the URLs, forwards each
process's output with a name prefix, and on Ctrl-C (SIGINT) or SIGTERM stops them all: SIGTERM to each process
group, then SIGKILL after a grace period. If one process dies, the others are stopped and the launcher exits
non-zero, so a half-running service never looks healthy.

Only the standard library is used: the launcher runs under the backend's interpreter, but the end-to-end tests
import `ServiceStack` from here too, so both use one way of starting the service.

Configuration (environment variables, all optional):
    CS_BACKEND_HOST / CS_BACKEND_PORT   cs_backend bind address          (127.0.0.1 / 8000)
    ACTION_SERVER_PORT                  Rasa action server port          (5055)
    RASA_PORT                           Rasa server port                 (5005)
    RASA_MODEL                          trained model archive            (models/assistant.tar.gz)
    DATABASE_URL, REDIS_URL             passed to cs_backend (defaults: SQLite file under var/, in-process queue)
    RASA_ENDPOINTS                      Rasa endpoints file                (endpoints.yml)
    RASA_EVENTS_DB                      SQLite file of Rasa's SQL event broker, read by cs_backend
                                        (var/rasa_events.db; sets cs_backend's RASA_EVENTS_URL to match)
    STARTUP_TIMEOUT                     seconds to wait for all health checks (240)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
BOT_VENV = REPO_ROOT / ".venv-bot"
BACKEND_VENV = REPO_ROOT / ".venv-backend"
DEFAULT_MODEL = REPO_ROOT / "models" / "assistant.tar.gz"
DEFAULT_EVENTS_DB = REPO_ROOT / "var" / "rasa_events.db"
STOP_GRACE_SECONDS = 15.0


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the service and how to tell that it is ready."""

    name: str
    argv: Sequence[str]
    ready_url: str
    env: Mapping[str, str] = field(default_factory=dict)
    # Extra readiness condition on the health response body (e.g. "a model is loaded").
    ready_check: Callable[[bytes], bool] | None = None


@dataclass(frozen=True)
class Ports:
    backend: int = 8000
    actions: int = 5055
    rasa: int = 5005
    host: str = "127.0.0.1"

    @property
    def backend_url(self) -> str:
        return f"http://{self.host}:{self.backend}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa}"


def _rasa_model_loaded(body: bytes) -> bool:
    try:
        return bool(json.loads(body).get("model_id"))
    except (ValueError, AttributeError):
        return False


def service_specs(
    ports: Ports,
    model: Path = DEFAULT_MODEL,
    extra_env: Mapping[str, str] | None = None,
) -> list[ProcessSpec]:
    """The three processes of the service, wired to each other through `ports`."""
    extra_env = dict(extra_env or {})
    events_db = extra_env.pop("RASA_EVENTS_DB", os.environ.get("RASA_EVENTS_DB", str(DEFAULT_EVENTS_DB)))
    endpoints = extra_env.pop(
        "RASA_ENDPOINTS", os.environ.get("RASA_ENDPOINTS", str(REPO_ROOT / "endpoints.yml"))
    )
    shared_env = {
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
        # Rasa phones home by default; this service must not depend on outside hosts.
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CS_BACKEND_URL": ports.backend_url,
        "ACTION_SERVER_URL": f"{ports.actions_url}/webhook",
        "RASA_URL": ports.rasa_url,
        # Rasa's SQL event broker writes this file and cs_backend reads it (endpoints.yml).
        "RASA_EVENTS_DB": events_db,
        "RASA_EVENTS_URL": os.environ.get("RASA_EVENTS_URL", f"sqlite:///{events_db}"),
        **extra_env,
    }
    return [
        ProcessSpec(
            name="backend",
            argv=[
                str(BACKEND_VENV / "bin" / "python"),
                "-m",
                "cs_backend",
                "serve",
                "--host",
                ports.host,
                "--port",
                str(ports.backend),
            ],
            ready_url=f"{ports.backend_url}/health/ready",
            env=shared_env,
        ),
        ProcessSpec(
            name="actions",
            argv=[
                str(BOT_VENV / "bin" / "rasa"),
                "run",
                "actions",
                "--actions",
                "actions",
                "--port",
                str(ports.actions),
            ],
            ready_url=f"{ports.actions_url}/health",
            # rasa-sdk has no host option; its runner reads SANIC_HOST (it binds all interfaces otherwise).
            env={**shared_env, "SANIC_HOST": ports.host},
        ),
        ProcessSpec(
            name="rasa",
            argv=[
                str(BOT_VENV / "bin" / "rasa"),
                "run",
                "--model",
                str(model),
                "--enable-api",
                "--cors",
                "*",
                "--interface",
                ports.host,
                "--port",
                str(ports.rasa),
                "--credentials",
                str(REPO_ROOT / "credentials.yml"),
                "--endpoints",
                endpoints,
            ],
            ready_url=f"{ports.rasa_url}/status",
            env=shared_env,
            ready_check=_rasa_model_loaded,
        ),
    ]


def _probe(url: str, check: Callable[[bytes], bool] | None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = response.read()
            return response.status == 200 and (check is None or check(body))
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ServiceStack:
    """Starts processes, waits for their health checks, and stops them as one unit."""

    def __init__(self, specs: Sequence[ProcessSpec], log_dir: Path | None = None, echo: TextIO | None = None):
        self.specs = list(specs)
        self.log_dir = log_dir
        self.echo = echo
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self._pumps: list[asyncio.Task[None]] = []

    async def start(self, timeout: float = 240.0) -> None:
        for spec in self.specs:
            env = {**os.environ, **spec.env}
            self.processes[spec.name] = await asyncio.create_subprocess_exec(
                *spec.argv,
                cwd=REPO_ROOT,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                # Own process group: a terminal Ctrl-C reaches only the launcher, which then stops
                # each child in order instead of all of them racing at once.
                start_new_session=True,
            )
            self._pumps.append(asyncio.create_task(self._pump(spec.name)))
        try:
            await asyncio.wait_for(self._wait_ready(), timeout)
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        pending = list(self.specs)
        while pending:
            for spec in list(pending):
                process = self.processes[spec.name]
                if process.returncode is not None:
                    raise RuntimeError(
                        f"{spec.name} exited with code {process.returncode} before it was ready"
                        + (f"; see {self.log_dir / (spec.name + '.log')}" if self.log_dir else "")
                    )
                if await asyncio.to_thread(_probe, spec.ready_url, spec.ready_check):
                    pending.remove(spec)
            if pending:
                await asyncio.sleep(0.5)

    async def _pump(self, name: str) -> None:
        """Copy a process's output to its log file and, when echoing, to the terminal with its name."""
        process = self.processes[name]
        assert process.stdout is not None
        log_file = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_file = open(self.log_dir / f"{name}.log", "ab")
        try:
            async for line in process.stdout:
                if log_file is not None:
                    log_file.write(line)
                    log_file.flush()
                if self.echo is not None:
                    self.echo.write(f"[{name:>7}] {line.decode(errors='replace').rstrip()}\n")
                    self.echo.flush()
        finally:
            if log_file is not None:
                log_file.close()

    async def wait_for_exit(self) -> str:
        """Return the name of the first process that exits."""
        waits = {asyncio.create_task(p.wait()): name for name, p in self.processes.items()}
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            if task not in done:
                task.cancel()
        return waits[next(iter(done))]

    async def stop(self) -> None:
        # Rasa first (it calls the action server), then actions, then the backend they both use.
        for name in reversed(list(self.processes)):
            await _terminate(self.processes[name])
        for pump in self._pumps:
            try:
                await asyncio.wait_for(pump, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pump.cancel()
        self._pumps.clear()


async def _terminate(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
    except asyncio.TimeoutError:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await process.wait()


def ports_from_env(env: Mapping[str, str] = os.environ) -> Ports:
    return Ports(
        backend=int(env.get("CS_BACKEND_PORT", "8000")),
        actions=int(env.get("ACTION_SERVER_PORT", "5055")),
        rasa=int(env.get("RASA_PORT", "5005")),
        host=env.get("CS_BACKEND_HOST", "127.0.0.1"),
    )


async def run_until_stopped() -> int:
    ports = ports_from_env()
    model = Path(os.environ.get("RASA_MODEL", str(DEFAULT_MODEL)))
    if not model.exists():
        print(f"No trained model at {model}: run `make model` (make run does it for you).", file=sys.stderr)
        return 2
    specs = service_specs(ports, model)
    # Rasa's SQL event broker creates its SQLite file but not the directory.
    Path(specs[0].env["RASA_EVENTS_DB"]).parent.mkdir(parents=True, exist_ok=True)
    stack = ServiceStack(specs, log_dir=REPO_ROOT / "var" / "log", echo=sys.stdout)

    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)

    started = time.monotonic()
    print("Starting cs_backend, the action server and the Rasa server (loading the model takes a while)…")
    start = asyncio.create_task(stack.start(float(os.environ.get("STARTUP_TIMEOUT", "240"))))
    interrupted = asyncio.create_task(stop_requested.wait())
    await asyncio.wait({start, interrupted}, return_when=asyncio.FIRST_COMPLETED)
    if not start.done():
        start.cancel()
        await asyncio.gather(start, return_exceptions=True)
        await stack.stop()
        print("Stopped before startup finished.")
        return 130
    interrupted.cancel()
    if start.exception() is not None:
        print(f"Startup failed: {start.exception()}", file=sys.stderr)
        return 1

    print(
        "\n"
        f"  Ready in {time.monotonic() - started:.0f} s. Press Ctrl-C to stop.\n"
        f"  Website with the chat widget:  {ports.backend_url}/\n"
        f"  cs_backend API (OpenAPI):      {ports.backend_url}/api/openapi.json\n"
        f"  Tickets:                       {ports.backend_url}/api/tickets\n"
        f"  Rasa server (REST channel):    {ports.rasa_url}/webhooks/rest/webhook\n"
        f"  Action server:                 {ports.actions_url}/health\n"
        f"  Logs:                          {REPO_ROOT / 'var' / 'log'}\n",
        flush=True,
    )

    exited = asyncio.create_task(stack.wait_for_exit())
    interrupted = asyncio.create_task(stop_requested.wait())
    await asyncio.wait({exited, interrupted}, return_when=asyncio.FIRST_COMPLETED)
    if exited.done():
        print(f"{exited.result()} stopped unexpectedly; stopping the others.", file=sys.stderr)
        interrupted.cancel()
        await stack.stop()
        return 1
    exited.cancel()
    print("\nStopping…")
    await stack.stop()
    print("All processes stopped.")
    return 0


def main() -> None:
    sys.exit(asyncio.run(run_until_stopped()))


if __name__ == "__main__":
    main()
