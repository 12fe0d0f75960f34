"""End-to-end fixtures: the real service (cs_backend + action server + Rasa server) on free ports.

The stack is started once per test session with bot/launcher.py's ServiceStack, the same code `make run` uses,
against a fresh SQLite database (the embedded default) and the model `make model` trained.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from e2e_support import RunningService, free_port, unavailable

from bot.launcher import BACKEND_VENV, BOT_VENV, DEFAULT_MODEL, REPO_ROOT, Ports, ServiceStack, service_specs


@pytest.fixture(scope="session")
def service_paths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    for needed, how in (
        (BOT_VENV / "bin" / "rasa", "make envs"),
        (BACKEND_VENV / "bin" / "python", "make envs"),
        (DEFAULT_MODEL, "make model"),
    ):
        if not needed.exists():
            unavailable(f"{needed} is missing; run `{how}` (make test does it)")
    base = tmp_path_factory.mktemp("e2e")
    yield base / "cs_backend.db", base / "log"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def service(service_paths: tuple[Path, Path]) -> AsyncIterator[RunningService]:
    database_path, log_dir = service_paths
    database_url = f"sqlite+aiosqlite:///{database_path}"
    ports = Ports(backend=free_port(), actions=free_port(), rasa=free_port())
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "RASA_URL": ports.rasa_url,
        "RASA_EVENTS_DB": str(database_path.parent / "rasa_events.db"),
        "OUTCOME_POLL_INTERVAL_SECONDS": "0.5",
        # Customers count as stalled after 1.8 s; the nudge test runs the job itself (`nudge-stalled`).
        "ONBOARDING_STALLED_AFTER_HOURS": "0.0005",
        "ONBOARDING_NUDGE_INTERVAL_SECONDS": "0",
    }
    subprocess.run(
        [str(BACKEND_VENV / "bin" / "python"), "-m", "cs_backend", "migrate"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        check=True,
    )
    stack = ServiceStack(service_specs(ports, DEFAULT_MODEL, env), log_dir=log_dir, echo=None)
    try:
        await stack.start(timeout=300)
    except Exception as error:  # show why a process did not come up
        logs = "\n".join(
            f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(log_dir.glob("*.log"))
        )
        print(logs, file=sys.stderr)
        raise RuntimeError(f"the service did not start: {error}") from error
    try:
        yield RunningService(ports=ports, database_path=database_path, log_dir=log_dir, env=env)
    finally:
        await stack.stop()
