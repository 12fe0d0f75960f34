"""Start the service's processes, wait until each answers its health check, and stop them as one unit.

The one way this repository starts cs_backend, the Rasa action server and the Rasa server: `python -m
launcher` (`make run`) starts all three, the end-to-end tests do the same on free ports, and the action tests
start only cs_backend (`backend_spec`). Each process runs in its own process group, so stopping
it (SIGTERM, then SIGKILL after a grace period) also stops whatever it started.

The services prove who calls them with three secrets (docs/SECURITY.md): RASA_AUTH_TOKEN locks Rasa's HTTP
API (cs_backend sends it), ACTION_SERVER_TOKEN locks the action server (Rasa sends it, endpoints.yml), and
CS_BACKEND_SERVICE_SECRET signs the action server's calls to cs_backend. A fourth, WIDGET_SESSION_SECRET,
signs the widget's session tokens (Rasa's socket.io channel, bot/channels/widget_sessions.py), and a fifth,
WEBSITE_IDENTITY_SECRET, is the website's key of its signed-in users' HMAC (the demo website signs its demo
user; Rasa and cs_backend verify it: bot/channels/website_identity.py). Each is the
caller's when set, else a random one generated for this run (a generated widget secret ends every widget
session at the next start: production sets it); they reach the processes only through their environment,
never their command lines (which every local user can read) nor any output.

Standard library only, and Python 3.10: both environments import it (the backend's CPython 3.11 runs the
launcher and the end-to-end tests, the bot's CPython 3.10 runs the action tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
BOT_VENV = REPO_ROOT / ".venv-bot"
BACKEND_VENV = REPO_ROOT / ".venv-backend"
BACKEND_PYTHON = BACKEND_VENV / "bin" / "python"
BOT_PYTHON = BOT_VENV / "bin" / "python"
DEFAULT_MODEL = REPO_ROOT / "models" / "assistant.tar.gz"
DEFAULT_EVENTS_DB = REPO_ROOT / "var" / "rasa_events.db"
DEFAULT_TRACKER_DB = REPO_ROOT / "var" / "rasa_tracker.db"
# The action server's outbox of writes cs_backend has not confirmed yet (actions/api/outbox.py).
DEFAULT_OUTBOX_PATH = REPO_ROOT / "var" / "actions_outbox.db"
DEFAULT_ENDPOINTS = REPO_ROOT / "endpoints.yml"
# The credentials files Rasa is started with (bot/channels/registry.py writes them): one per Rasa port, so
# that stacks started at the same time (tests) never share one.
CREDENTIALS_DIR = REPO_ROOT / "var" / "credentials"
# Importing Rasa's channels takes seconds (more on a busy machine).
REGISTRY_TIMEOUT_SECONDS = 180.0
STOP_GRACE_SECONDS = 15.0
READY_POLL_SECONDS = 0.5
EXIT_POLL_SECONDS = 0.2
PROBE_TIMEOUT_SECONDS = 2.0
PUMP_JOIN_SECONDS = 5.0
# The tokens between the services: each locks one service's API (see the module docstring).
RASA_TOKEN_VARIABLE = "RASA_AUTH_TOKEN"
ACTION_SERVER_TOKEN_VARIABLE = "ACTION_SERVER_TOKEN"
# The key of the HMAC signatures of service calls to cs_backend (cs_backend/auth, actions/api/signing.py).
SERVICE_SECRET_VARIABLE = "CS_BACKEND_SERVICE_SECRET"
# The key of the widget's session tokens (bot/channels/widget_sessions.py); only Rasa holds it.
WIDGET_SECRET_VARIABLE = "WIDGET_SESSION_SECRET"
# The bearer token of the REST channel (bot/channels/rest.py), for trusted callers: tests and integrations.
REST_TOKEN_VARIABLE = "RASA_REST_TOKEN"
# The website's key of its users' HMAC (userHash): the demo website (cs_backend) signs its demo user with it,
# Rasa's widget channel and cs_backend's link codes verify it (bot/channels/website_identity.py).
WEBSITE_SECRET_VARIABLE = "WEBSITE_IDENTITY_SECRET"
# The demo website's signed-in user (GET /demo/signed-in, cs_backend's DEMO_WEBSITE_USER).
DEMO_USER_VARIABLE = "DEMO_WEBSITE_USER"
DEMO_USER = "demo-ada"
TOKEN_VARIABLES = (
    RASA_TOKEN_VARIABLE,
    ACTION_SERVER_TOKEN_VARIABLE,
    SERVICE_SECRET_VARIABLE,
    WIDGET_SECRET_VARIABLE,
    REST_TOKEN_VARIABLE,
    WEBSITE_SECRET_VARIABLE,
)
# A token set by hand must be at least this long; a generated one has 43 characters (32 random bytes).
MIN_TOKEN_LENGTH = 16
# The signing keys must be longer (cs_backend/config.py MIN_SERVICE_SECRET_LENGTH, widget_sessions.py).
MIN_TOKEN_LENGTHS = {SERVICE_SECRET_VARIABLE: 32, WIDGET_SECRET_VARIABLE: 32, WEBSITE_SECRET_VARIABLE: 32}
GENERATED_TOKEN_BYTES = 32
# The web origins allowed to call Rasa from a browser (comma-separated); default: the demo website's.
CORS_ORIGINS_VARIABLE = "RASA_CORS_ORIGINS"
# scheme://host[:port] and nothing else: no path, none of the characters Rasa's CORS library reads as a regex.
_ORIGIN = re.compile(r"https?://[^/\s*?\\\]\[]+")


class StartupError(RuntimeError):
    """A process exited before it was ready, or not every process was ready in time."""


class ConfigurationError(StartupError):
    """A variable of the launcher's configuration has a value it cannot use (nothing was started)."""


class StartupInterrupted(Exception):
    """The caller asked to stop while the processes were starting; every started process has been stopped."""


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    """A port from the environment (blank means the default, as cs_backend reads its settings)."""
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise ConfigurationError(f"{name} must be a port number (1-65535), got {text!r}")
    return int(text)


def startup_timeout(env: Mapping[str, str], default: float = 240.0) -> float:
    """STARTUP_TIMEOUT: seconds to wait for every health check (blank means the default)."""
    text = env.get("STARTUP_TIMEOUT", "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ConfigurationError(f"STARTUP_TIMEOUT must be a number of seconds above 0, got {text!r}")
    return seconds


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the service and how to tell that it is ready."""

    name: str
    argv: Sequence[str]
    ready_url: str
    # Not in the repr: it holds the tokens.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Extra readiness condition on the health response body (e.g. "a model is loaded").
    ready_check: Callable[[bytes], bool] | None = None
    # Query parameters of the health check (Rasa's token), kept out of `ready_url` so that it can be shown.
    ready_query: Mapping[str, str] = field(default_factory=dict, repr=False)
    # The names of the channels the process listens on (Rasa's: rest, socketio, and the messaging channels
    # configured in the environment), for the launcher's banner.
    channels: tuple[str, ...] = ()


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
            backend=_port(env, "CS_BACKEND_PORT", 8000),
            actions=_port(env, "ACTION_SERVER_PORT", 5055),
            rasa=_port(env, "RASA_PORT", 5005),
            host=env.get("CS_BACKEND_HOST", "").strip() or "127.0.0.1",
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


def generate_token() -> str:
    """A random token for one run (URL-safe: it travels as a query parameter)."""
    return secrets.token_urlsafe(GENERATED_TOKEN_BYTES)


def service_token(name: str, given: str | None) -> str:
    """The token in the variable `name`: `given` when set (long enough), else a new random one."""
    token = (given or "").strip()
    if not token:
        return generate_token()
    min_length = MIN_TOKEN_LENGTHS.get(name, MIN_TOKEN_LENGTH)
    if len(token) < min_length:
        raise ConfigurationError(f"{name} must be at least {min_length} characters long (unset: generated)")
    return token


def service_env(ports: Ports, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every process runs with: where the others listen, Rasa's events database, the tokens.

    `extra_env` is added last (DATABASE_URL, REDIS_URL, ...). LOG_FORMAT is `text` unless the caller set it.
    `extra_env`'s RASA_EVENTS_DB, else the caller's, else var/rasa_events.db, is the SQLite file Rasa's SQL
    event broker writes (endpoints.yml) and cs_backend reads (RASA_EVENTS_URL, unless the caller set that).
    RASA_TRACKER_DB (var/rasa_tracker.db) is taken the same way: the SQLite file of Rasa's SQL tracker store,
    RASA_TRACKER_URL for cs_backend; and ACTIONS_OUTBOX_PATH (var/actions_outbox.db), the action server's
    outbox. RASA_AUTH_TOKEN, ACTION_SERVER_TOKEN, CS_BACKEND_SERVICE_SECRET, WIDGET_SESSION_SECRET,
    RASA_REST_TOKEN and WEBSITE_IDENTITY_SECRET are taken the same way, else generated (`service_token`).
    DEMO_WEBSITE_USER is taken the same way, else `demo-ada` when the website secret was generated.
    """
    extra = dict(extra_env or {})
    events_db = extra.pop("RASA_EVENTS_DB", os.environ.get("RASA_EVENTS_DB", str(DEFAULT_EVENTS_DB)))
    tracker_db = extra.pop("RASA_TRACKER_DB", os.environ.get("RASA_TRACKER_DB", str(DEFAULT_TRACKER_DB)))
    outbox = extra.pop("ACTIONS_OUTBOX_PATH", os.environ.get("ACTIONS_OUTBOX_PATH", str(DEFAULT_OUTBOX_PATH)))
    given = {name: extra.pop(name, os.environ.get(name)) for name in TOKEN_VARIABLES}
    tokens = {name: service_token(name, value) for name, value in given.items()}
    demo_user = extra.pop(DEMO_USER_VARIABLE, os.environ.get(DEMO_USER_VARIABLE))
    if demo_user is None and not (given[WEBSITE_SECRET_VARIABLE] or "").strip():
        # The website secret is this run's own, so nobody's real users are signed with it: the demo website
        # may show its demo user signed in. A site with its own secret gets no such page unless it asks.
        demo_user = DEMO_USER
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
        "RASA_TRACKER_DB": tracker_db,
        "RASA_TRACKER_URL": os.environ.get("RASA_TRACKER_URL", f"sqlite:///{tracker_db}"),
        "ACTIONS_OUTBOX_PATH": outbox,
        # Readable lines for whoever runs the stack at a terminal; production keeps the JSON default.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
        **tokens,
        **({DEMO_USER_VARIABLE: demo_user} if demo_user else {}),
        **extra,
    }


def cors_origins(ports: Ports, configured: str | None) -> list[str]:
    """The web origins allowed to call Rasa from a browser: `configured` (RASA_CORS_ORIGINS, comma-separated)
    when set, else the demo website's (cs_backend's address, also as 127.0.0.1 and localhost)."""
    if configured and configured.strip():
        origins = [origin.strip().rstrip("/") for origin in configured.split(",") if origin.strip()]
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ConfigurationError(
                    f"{CORS_ORIGINS_VARIABLE}: {origin!r} is not an origin like https://www.example.com"
                    " (scheme, host and port only; no wildcard)"
                )
        return origins
    defaults = [ports.backend_url, f"http://127.0.0.1:{ports.backend}", f"http://localhost:{ports.backend}"]
    return list(dict.fromkeys(defaults))


def backend_spec(ports: Ports, env: Mapping[str, str]) -> ProcessSpec:
    """cs_backend, ready when its readiness check (database, live events) passes."""
    return ProcessSpec(
        name="backend",
        argv=backend_command("serve", "--host", ports.host, "--port", str(ports.backend)),
        ready_url=f"{ports.backend_url}/health/ready",
        env=env,
    )


def actions_spec(ports: Ports, env: Mapping[str, str]) -> ProcessSpec:
    """The action server (the `actions` package behind bot/action_server.py's token check), under the bot
    interpreter; it reads its token from ACTION_SERVER_TOKEN."""
    return ProcessSpec(
        name="actions",
        argv=[str(BOT_PYTHON), "-m", "bot.action_server", "--actions", "actions"]
        + ["--host", ports.host, "--port", str(ports.actions)],
        ready_url=f"{ports.actions_url}/health",
        env=env,
    )


def _rasa_model_loaded(body: bytes) -> bool:
    try:
        return bool(json.loads(body).get("model_id"))
    except (ValueError, AttributeError):
        return False


def write_channel_credentials(env: Mapping[str, str], path: Path) -> tuple[str, ...]:
    """Write the credentials file Rasa is started with (bot/channels/registry.py, under the bot's Python: the
    channels are Rasa's classes) from `env` over this process's environment; return the names of the
    channels that are on. A messaging channel's configuration it cannot use raises ConfigurationError."""
    try:
        written = subprocess.run(
            [str(BOT_PYTHON), "-m", "bot.channels.registry", str(path)],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=REGISTRY_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as error:
        raise StartupError(f"the channels' credentials were not written in {error.timeout:.0f} s") from error
    if written.returncode != 0:
        # The registry's error is its last line (a channel's ValueError names the variable, never a value).
        reason = (written.stderr.strip().splitlines() or [f"exit code {written.returncode}"])[-1]
        raise ConfigurationError(f"the channels' configuration cannot be used: {reason}")
    names = json.loads(written.stdout.strip().splitlines()[-1])
    return tuple(str(name) for name in names)


def rasa_spec(
    ports: Ports,
    env: Mapping[str, str],
    model: Path,
    endpoints: str,
    origins: Sequence[str],
    credentials: Path | None = None,
) -> ProcessSpec:
    """The Rasa server, its HTTP API locked by RASA_AUTH_TOKEN (bot/rasa_server.py) and callable from browser
    pages of `origins` only; ready once the model is loaded (not merely listening). Its channels are those of
    the credentials file written to `credentials` (default var/credentials/rasa-<port>.yml) from the
    environment: credentials.yml's, and each messaging channel configured (docs/CHANNELS.md)."""
    credentials = credentials or CREDENTIALS_DIR / f"rasa-{ports.rasa}.yml"
    # The file is written with the environment Rasa gets, so both see the same channels.
    channels = write_channel_credentials(env, credentials)
    return ProcessSpec(
        name="rasa",
        argv=[str(BOT_PYTHON), "-m", "bot.rasa_server", "--model", str(model), "--cors", *origins]
        + ["--interface", ports.host, "--port", str(ports.rasa)]
        + ["--credentials", str(credentials), "--endpoints", endpoints],
        # /status is part of the HTTP API: it needs the token too.
        ready_url=f"{ports.rasa_url}/status",
        # The widget's channel refuses socket.io requests from pages of other origins than these
        # (bot/channels/socketio.py): the same list as `--cors`.
        env={**env, CORS_ORIGINS_VARIABLE: ",".join(origins)},
        ready_check=_rasa_model_loaded,
        ready_query={"token": env[RASA_TOKEN_VARIABLE]},
        channels=channels,
    )


def service_specs(
    ports: Ports,
    model: Path = DEFAULT_MODEL,
    extra_env: Mapping[str, str] | None = None,
) -> list[ProcessSpec]:
    """The three processes of the service, wired to each other through `ports`, in start order.

    `extra_env` may also name Rasa's endpoints file, RASA_ENDPOINTS (else the caller's, else endpoints.yml),
    and the origins allowed to call Rasa from a browser, RASA_CORS_ORIGINS (`cors_origins`). Writes Rasa's
    credentials file (`rasa_spec`; the Rasa spec's `channels` are the channels that are on). Raises
    ConfigurationError when a token, an origin or a messaging channel's configuration cannot be used.
    """
    env = service_env(ports, extra_env)
    endpoints = env.pop("RASA_ENDPOINTS", os.environ.get("RASA_ENDPOINTS", str(DEFAULT_ENDPOINTS)))
    origins = cors_origins(ports, env.pop(CORS_ORIGINS_VARIABLE, os.environ.get(CORS_ORIGINS_VARIABLE)))
    return [
        # Only Rasa's channels issue and verify widget sessions and check the REST channel's token.
        backend_spec(ports, without(env, WIDGET_SECRET_VARIABLE, REST_TOKEN_VARIABLE)),
        actions_spec(
            ports, without(env, WIDGET_SECRET_VARIABLE, REST_TOKEN_VARIABLE, WEBSITE_SECRET_VARIABLE)
        ),
        # Rasa never calls cs_backend: it does not get the key that signs those calls.
        rasa_spec(ports, without(env, SERVICE_SECRET_VARIABLE), model, endpoints, origins),
    ]


def without(env: Mapping[str, str], *names: str) -> dict[str, str]:
    return {key: value for key, value in env.items() if key not in names}


def _probe(url: str, check: Callable[[bytes], bool] | None, query: Mapping[str, str]) -> bool:
    if query:
        url = f"{url}?{urllib.parse.urlencode(query)}"
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
                if _probe(spec.ready_url, spec.ready_check, spec.ready_query):
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
