"""End-to-end fixtures: the real service (cs_backend + action server + Rasa server) on free ports.

The stack is started once per test session with launcher/stack.py's ServiceStack, the same code `make run`
uses, against a fresh SQLite database (the embedded default) and the model `make model` trained.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import RunningService

from launcher.stack import (
    BACKEND_PYTHON,
    BOT_VENV,
    DEFAULT_MODEL,
    Ports,
    ServiceStack,
    StartupError,
    backend_command,
    generate_token,
    service_specs,
)
from tests.support import REPO_ROOT, unavailable

STARTUP_TIMEOUT_SECONDS = 300.0


@pytest.fixture(scope="session")
def service_paths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    for needed, how in (
        (BOT_VENV / "bin" / "rasa", "make envs"),
        (BACKEND_PYTHON, "make envs"),
        (DEFAULT_MODEL, "make model"),
    ):
        if not needed.exists():
            unavailable(f"{needed} is missing; run `{how}` (make test does it)")
    base = tmp_path_factory.mktemp("e2e")
    yield base / "cs_backend.db", base / "log"


@pytest.fixture(scope="session")
def service(service_paths: tuple[Path, Path]) -> Iterator[RunningService]:
    database_path, log_dir = service_paths
    ports = Ports.pick_free()
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{database_path}",
        "REDIS_URL": "",
        "RASA_URL": ports.rasa_url,
        "RASA_EVENTS_DB": str(database_path.parent / "rasa_events.db"),
        "RASA_TRACKER_DB": str(database_path.parent / "rasa_tracker.db"),
        "ACTIONS_OUTBOX_PATH": str(database_path.parent / "actions_outbox.db"),
        # Chosen here, so the tests know them (the launcher would generate its own); the nudge CLI reads
        # RASA_AUTH_TOKEN from this environment too.
        "RASA_AUTH_TOKEN": generate_token(),
        "ACTION_SERVER_TOKEN": generate_token(),
        "CS_BACKEND_SERVICE_SECRET": generate_token(),
        # The tests derive the sender ids of their widget sessions with it.
        "WIDGET_SESSION_SECRET": generate_token(),
        # The REST clients of the tests send it (chat_clients.RestChat).
        "RASA_REST_TOKEN": generate_token(),
        "OUTCOME_POLL_INTERVAL_SECONDS": "0.5",
        # Customers count as stalled after 1.8 s; the nudge test runs the job itself (`nudge-stalled`).
        "ONBOARDING_STALLED_AFTER_HOURS": "0.0005",
        "ONBOARDING_NUDGE_INTERVAL_SECONDS": "0",
    }
    subprocess.run(backend_command("migrate"), cwd=REPO_ROOT, env={**os.environ, **env}, check=True)
    stack = ServiceStack(service_specs(ports, DEFAULT_MODEL, env), log_dir=log_dir)
    try:
        stack.start(timeout=STARTUP_TIMEOUT_SECONDS)
    except StartupError as error:  # show why a process did not come up
        raise RuntimeError(f"the service did not start: {error}\n{stack.log_tails()}") from error
    try:
        yield RunningService(ports=ports, database_path=database_path, log_dir=log_dir, env=env)
    finally:
        stack.stop()
