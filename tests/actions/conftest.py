"""Fixtures for the action tests: a REAL cs_backend, started once per test session.

`backend` runs `python -m cs_backend migrate` and then `serve` from .venv-backend on a free port with a fresh
SQLite database, waits for GET /health/ready (60 s at most), points the actions at it through CS_BACKEND_URL,
and stops it afterwards (terminate, wait, kill). Without .venv-backend the tests that need it are skipped —
except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `import actions` without relying on PYTHONPATH
    sys.path.insert(0, str(REPO_ROOT))

BACKEND_PYTHON = REPO_ROOT / ".venv-backend" / "bin" / "python"
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the action tests must run against cs_backend)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningBackend:
    url: str
    database_path: Path
    log_path: Path

    def get(self, path: str) -> Any:
        """GET a JSON resource directly (not through the client under test)."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.load(response)


def _wait_ready(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last_error: str | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"cs_backend exited with {process.returncode} before it was ready:\n"
                f"{log_path.read_text(errors='replace')[-4000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = str(error)
        time.sleep(0.25)
    raise RuntimeError(
        f"cs_backend was not ready after {READY_TIMEOUT_SECONDS:.0f} s ({last_error}):\n"
        f"{log_path.read_text(errors='replace')[-4000:]}"
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    if not BACKEND_PYTHON.exists():
        _unavailable(f"{BACKEND_PYTHON} is missing: install the backend environment (`make envs`)")
    if not (REPO_ROOT / "cs_backend" / "__main__.py").exists():
        _unavailable("cs_backend/__main__.py is missing: the backend is not built yet")

    base = tmp_path_factory.mktemp("cs_backend")
    database_path = base / "cs_backend.db"
    log_path = base / "cs_backend.log"
    env: dict[str, str] = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database_path}",
        "REDIS_URL": "",
        "PYTHONPATH": str(REPO_ROOT),
    }
    migrate = subprocess.run(
        [str(BACKEND_PYTHON), "-m", "cs_backend", "migrate"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if migrate.returncode != 0:
        pytest.fail(f"cs_backend migrate failed ({migrate.returncode}):\n{migrate.stdout}\n{migrate.stderr}")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BACKEND_PYTHON), "-m", "cs_backend", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )
    previous_url = os.environ.get("CS_BACKEND_URL")
    try:
        _wait_ready(url, process, log_path)
        os.environ["CS_BACKEND_URL"] = url
        yield RunningBackend(url=url, database_path=database_path, log_path=log_path)
    finally:
        if previous_url is None:
            os.environ.pop("CS_BACKEND_URL", None)
        else:
            os.environ["CS_BACKEND_URL"] = previous_url
        _stop(process)


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
