"""`python -m launcher`: the whole service in one terminal (what `make run` calls).

`make run` calls it after the environments are installed, the model trained and the database migrated. It
starts cs_backend, the Rasa action server and the Rasa server (launcher/stack.py), waits until each answers
its health check, prints the URLs, forwards each process's output with a name prefix (and to var/log/), and
on Ctrl-C (SIGINT) or SIGTERM stops them all. If one process dies, the others are stopped and the launcher
exits non-zero, so a half-running service never looks healthy.

Exit codes: 0 stopped on request, 1 bad configuration, startup failed or a process died, 2 no trained model,
startup finished.

Configuration (environment variables, all optional):
    CS_BACKEND_HOST / CS_BACKEND_PORT   cs_backend bind address          (127.0.0.1 / 8000)
    ACTION_SERVER_PORT                  Rasa action server port          (5055)
    RASA_PORT                           Rasa server port                 (5005)
    RASA_MODEL                          trained model archive            (models/assistant.tar.gz)
    DATABASE_URL, REDIS_URL             passed to cs_backend (defaults: SQLite file under var/, no Redis)
    RASA_ENDPOINTS                      Rasa endpoints file                (endpoints.yml)
    RASA_EVENTS_DB                      SQLite file of Rasa's SQL event broker, read by cs_backend
                                        (var/rasa_events.db; sets cs_backend's RASA_EVENTS_URL to match)
    RASA_TRACKER_DB                     SQLite file of Rasa's SQL tracker store: conversations survive a
                                        restart (var/rasa_tracker.db; sets cs_backend's RASA_TRACKER_URL)
    RASA_AUTH_TOKEN                     token of Rasa's HTTP API, used by cs_backend (unset: a random one
                                        for this run; at least 16 characters when set)
    ACTION_SERVER_TOKEN                 token of the action server, sent by Rasa (same rules)
    CS_BACKEND_SERVICE_SECRET           key of the signatures of the action server's calls to cs_backend
                                        (unset: a random one for this run; at least 32 characters when set)
    WIDGET_SESSION_SECRET               key of the widget's signed session tokens, Rasa's only (same rules;
                                        a random one ends every widget conversation at the next start, so
                                        production sets it)
    RASA_REST_TOKEN                     bearer token of the REST channel, for trusted callers (tests,
                                        integrations), Rasa's only (unset: a random one for this run; at
                                        least 16 characters when set)
    WEBSITE_IDENTITY_SECRET             the website's key of its users' HMAC (userHash), for Rasa's widget
                                        channel and cs_backend (unset: a random one for this run, which the
                                        demo website signs its demo user with; at least 32 characters)
    DEMO_WEBSITE_USER                   the demo website's signed-in user at /demo/signed-in (demo-ada
                                        when WEBSITE_IDENTITY_SECRET is generated; else no such page)
    RASA_CORS_ORIGINS                   web origins (comma-separated) whose pages may call Rasa from a
                                        browser: the sites that embed the widget (the demo website's)
    TELEGRAM_*, SLACK_*                 a messaging channel, on when configured (docs/CHANNELS.md,
                                        "Configuration"); the banner says which channels are on
    STARTUP_TIMEOUT                     seconds to wait for all health checks (240)

The tokens are never printed: to call Rasa's HTTP API by hand, set RASA_AUTH_TOKEN yourself (and
RASA_REST_TOKEN for the REST channel); to call
cs_backend's API, set CS_BACKEND_SERVICE_SECRET and sign the requests, or create an account (the banner says
how) and sign in (docs/API_CONTRACT.md, docs/SECURITY.md).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from launcher.stack import (
    BACKEND_PYTHON,
    DEFAULT_MODEL,
    RASA_TOKEN_VARIABLE,
    REPO_ROOT,
    REST_TOKEN_VARIABLE,
    ConfigurationError,
    Ports,
    ServiceStack,
    StartupError,
    StartupInterrupted,
    service_specs,
    startup_timeout,
)

LOG_DIR = REPO_ROOT / "var" / "log"
# How the banner tells to create the first admin (from the repository root, where `make run` runs).
CREATE_ADMIN = f"{BACKEND_PYTHON.relative_to(REPO_ROOT)} -m cs_backend create-admin --email <you>"
# How it tells to create an agent who takes live chats in the console (docs/HANDOFF.md).
CREATE_AGENT = f"{BACKEND_PYTHON.relative_to(REPO_ROOT)} -m cs_backend create-agent --email <agent>"


class StopRequest:
    """Set by SIGINT or SIGTERM; the launcher polls it, so a second Ctrl-C cannot cut a shutdown short."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def is_requested(self) -> bool:
        return self.requested


def channels_line(channels: Sequence[str]) -> str:
    """The channels that are on, as the banner names them ("rest, socketio (widget), telegram")."""
    return ", ".join(f"{name} (widget)" if name == "socketio" else name for name in channels)


def banner(ports: Ports, seconds: float, rasa_token_given: bool, channels: Sequence[str]) -> str:
    token = "yours" if rasa_token_given else "random for this run, not shown"
    return (
        "\n"
        f"  Ready in {seconds:.0f} s. Press Ctrl-C to stop.\n"
        f"  Rasa channels:                 {channels_line(channels)}  (others: docs/CHANNELS.md)\n"
        f"  Website with the chat widget:  {ports.backend_url}/\n"
        f"  Agent console (sign in):       {ports.backend_url}/console\n"
        f"  Dashboard (sign in):           {ports.backend_url}/dashboard\n"
        f"  cs_backend API (OpenAPI):      {ports.backend_url}/api/openapi.json\n"
        f"  Tickets (signed or signed-in): {ports.backend_url}/api/tickets\n"
        f"  REST channel (trusted only):   {ports.rasa_url}/webhooks/rest/webhook  "
        f"(Authorization: Bearer ${REST_TOKEN_VARIABLE})\n"
        f"  Rasa HTTP API (token only):    {ports.rasa_url}/  ({RASA_TOKEN_VARIABLE}: {token})\n"
        f"  Action server:                 {ports.actions_url}/health\n"
        f"  First admin account:           {CREATE_ADMIN}\n"
        f"  An agent for the console:      {CREATE_AGENT}\n"
        f"  Logs:                          {LOG_DIR}\n"
    )


def run_until_stopped() -> int:
    """Start the service, run it until a signal or a process's death, stop it; return the exit code."""
    model = Path(os.environ.get("RASA_MODEL", str(DEFAULT_MODEL)))
    if not model.exists():
        print(f"No trained model at {model}: run `make model` (make run does it for you).", file=sys.stderr)
        return 2
    try:
        ports = Ports.from_env(os.environ)
        timeout = startup_timeout(os.environ)
        specs = service_specs(ports, model)
    except ConfigurationError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 1
    except StartupError as error:
        print(f"Startup failed: {error}", file=sys.stderr)
        return 1
    channels = next(spec.channels for spec in specs if spec.name == "rasa")
    # Rasa's SQL event broker creates its SQLite file but not the directory.
    Path(specs[0].env["RASA_EVENTS_DB"]).parent.mkdir(parents=True, exist_ok=True)
    stack = ServiceStack(specs, log_dir=LOG_DIR, echo=sys.stdout)

    stop = StopRequest()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)

    started = time.monotonic()
    print("Starting cs_backend, the action server and the Rasa server (loading the model takes a while)…")
    try:
        stack.start(timeout, interrupted=stop.is_requested)
    except StartupInterrupted:
        print("Stopped before startup finished.")
        return 130
    except (StartupError, OSError) as error:
        print(f"Startup failed: {error}", file=sys.stderr)
        return 1
    rasa_token_given = bool(os.environ.get(RASA_TOKEN_VARIABLE, "").strip())
    print(banner(ports, time.monotonic() - started, rasa_token_given, channels), flush=True)

    exited = stack.wait_for_exit(stop.is_requested)
    if exited is not None:
        print(f"{exited} stopped unexpectedly; stopping the others.", file=sys.stderr)
        stack.stop()
        return 1
    print("\nStopping…")
    stack.stop()
    print("All processes stopped.")
    return 0


def main() -> None:
    sys.exit(run_until_stopped())


if __name__ == "__main__":
    main()
