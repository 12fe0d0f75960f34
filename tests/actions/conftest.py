"""Fixtures for the action tests: a REAL cs_backend, started once per test session.

`backend` runs `python -m cs_backend migrate` and then starts cs_backend with launcher/stack.py (the code
`make run` uses) from .venv-backend on a free port with a fresh SQLite database, waits for GET /health/ready
(60 s at most), points the actions at it through CS_BACKEND_URL, gives them its service secret through
CS_BACKEND_SERVICE_SECRET (so their client signs what the real backend checks), and stops it afterwards.
Without .venv-backend the tests that need it are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from routing_contract_backend import SECRET, RoutingContractBackend

from actions.api.outbox import OUTBOX_PATH_ENV
from actions.api.signing import SECRET_ENV, signature_headers
from launcher.stack import (
    BACKEND_PYTHON,
    SERVICE_SECRET_VARIABLE,
    WEBSITE_SECRET_VARIABLE,
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
    service_secret: str = field(repr=False)
    # The website's key of its users' HMAC (link codes): generated for the session by service_env.
    website_secret: str = field(repr=False, default="")

    def get(self, path: str) -> Any:
        """GET a JSON resource directly (not through the client under test), signed; `path` as sent."""
        return self._send("GET", path)

    def post(self, path: str, payload: Any) -> Any:
        """POST a JSON body directly, signed."""
        return self._send("POST", path, json.dumps(payload).encode())

    def patch(self, path: str, payload: Any) -> Any:
        """PATCH a JSON body directly, signed."""
        return self._send("PATCH", path, json.dumps(payload).encode())

    def _send(self, method: str, path: str, body: bytes | None = None) -> Any:
        headers = signature_headers(self.service_secret, method, path, body or b"")
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.url}{path}", data=body, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
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
    secret = env[SERVICE_SECRET_VARIABLE]  # service_env generated it for this session
    previous = {name: os.environ.get(name) for name in ("CS_BACKEND_URL", SERVICE_SECRET_VARIABLE)}
    try:
        os.environ["CS_BACKEND_URL"] = ports.backend_url
        os.environ[SERVICE_SECRET_VARIABLE] = secret
        yield RunningBackend(
            url=ports.backend_url,
            database_path=database_path,
            log_path=stack.log_path("backend"),
            service_secret=secret,
            website_secret=env[WEBSITE_SECRET_VARIABLE],
        )
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        stack.stop()


@pytest.fixture(autouse=True)
def outbox_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own outbox file (ACTIONS_OUTBOX_PATH): what one test queues, another never replays."""
    path = tmp_path / "actions_outbox.db"
    monkeypatch.setenv(OUTBOX_PATH_ENV, str(path))
    return path


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


@pytest_asyncio.fixture
async def routing(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RoutingContractBackend]:
    """A local server speaking the live-handoff contract (routing_contract_backend.py), as CS_BACKEND_URL
    with its service secret: for what the real cs_backend does only with an agent online, or cannot be made
    to do."""
    async with RoutingContractBackend() as fake:
        monkeypatch.setenv("CS_BACKEND_URL", fake.url)
        monkeypatch.setenv(SECRET_ENV, SECRET)
        yield fake
