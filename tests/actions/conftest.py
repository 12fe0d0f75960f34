"""Fixtures for the action tests: a REAL cs_backend, started once per test session.

`backend` runs `python -m cs_backend migrate` and then starts cs_backend with launcher/stack.py (the code
`make run` uses) from .venv-backend on a free port with a fresh SQLite database, waits for GET /health/ready
(60 s at most), points the actions at it through CS_BACKEND_URL, and stops it afterwards. Without
.venv-backend the tests that need it are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from launcher.stack import (
    BACKEND_PYTHON,
    Ports,
    ServiceStack,
    StartupError,
    backend_command,
    backend_spec,
    free_port,
    service_env,
)
from tests.support import REPO_ROOT, unavailable

READY_TIMEOUT_SECONDS = 60.0
MIGRATE_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class RunningBackend:
    url: str
    database_path: Path
    log_path: Path

    def get(self, path: str) -> Any:
        """GET a JSON resource directly (not through the client under test)."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.load(response)


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    if not BACKEND_PYTHON.exists():
        unavailable(f"{BACKEND_PYTHON} is missing: install the backend environment (`make envs`)")
    if not (REPO_ROOT / "cs_backend" / "__main__.py").exists():
        unavailable("cs_backend/__main__.py is missing: the backend is not built yet")

    base = tmp_path_factory.mktemp("cs_backend")
    database_path = base / "cs_backend.db"
    ports = Ports(backend=free_port())
    env = service_env(
        ports,
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{database_path}",
            "REDIS_URL": "",
            "RASA_EVENTS_DB": str(base / "rasa_events.db"),
        },
    )
    migrate = subprocess.run(
        backend_command("migrate"),
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT_SECONDS,
    )
    if migrate.returncode != 0:
        pytest.fail(f"cs_backend migrate failed ({migrate.returncode}):\n{migrate.stdout}\n{migrate.stderr}")

    stack = ServiceStack([backend_spec(ports, env)], log_dir=base)
    try:
        stack.start(timeout=READY_TIMEOUT_SECONDS)
    except StartupError as error:
        raise RuntimeError(f"cs_backend did not start: {error}\n{stack.log_tails(4000)}") from error
    previous_url = os.environ.get("CS_BACKEND_URL")
    try:
        os.environ["CS_BACKEND_URL"] = ports.backend_url
        yield RunningBackend(
            url=ports.backend_url, database_path=database_path, log_path=stack.log_path("backend")
        )
    finally:
        if previous_url is None:
            os.environ.pop("CS_BACKEND_URL", None)
        else:
            os.environ["CS_BACKEND_URL"] = previous_url
        stack.stop()


@pytest.fixture
def backend_url(backend: RunningBackend, monkeypatch: pytest.MonkeyPatch) -> str:
    """The running backend's URL, set as CS_BACKEND_URL for this test (a test may override it)."""
    monkeypatch.setenv("CS_BACKEND_URL", backend.url)
    return backend.url


@pytest.fixture
def backend_down(monkeypatch: pytest.MonkeyPatch) -> str:
    """CS_BACKEND_URL pointing at a closed local port: every connection is refused."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("CS_BACKEND_URL", url)
    return url


@pytest.fixture
def sender_id(request: pytest.FixtureRequest) -> str:
    """A conversation id unique to the test (the backend is shared by the whole session)."""
    return f"test-{request.node.name}-{time.time_ns()}"
