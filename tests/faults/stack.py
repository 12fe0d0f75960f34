"""The service under fault: throwaway PostgreSQL and Redis, and cs_backend, the action server and Rasa.

The processes are launcher/stack.py's (`service_specs`, `ServiceStack`), as `make run` and the end-to-end
tests start them; each runs as a ServiceStack of its own, so that one can be killed and started again while
the others keep running. PostgreSQL and Redis are tests/backend/throwaway_servers.py's: their own, on free
ports, never the machine's shared servers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.channels.widget_sessions import WidgetSessions
from launcher.stack import (
    DEFAULT_MODEL,
    RASA_TOKEN_VARIABLE,
    REST_TOKEN_VARIABLE,
    WIDGET_SECRET_VARIABLE,
    Ports,
    ProcessSpec,
    ServiceStack,
    StartupError,
    backend_command,
    generate_token,
    service_specs,
    startup_timeout,
)
from tests.backend.throwaway_servers import ThrowawayPostgres, ThrowawayRedis
from tests.support import REPO_ROOT

# Per process; STARTUP_TIMEOUT overrides it (a busy machine loads the model slowly).
STARTUP_TIMEOUT_SECONDS = 300.0
# The names ServiceStack gives the three processes (launcher/stack.py), in start order.
BACKEND, ACTIONS, RASA = "backend", "actions", "rasa"


@dataclass(frozen=True)
class Paths:
    """Where the run keeps its files: logs, Rasa's SQLite files, the action server's outbox."""

    base: Path

    @property
    def logs(self) -> Path:
        return self.base / "log"

    @property
    def outbox(self) -> Path:
        return self.base / "actions_outbox.db"


class FaultStack:
    """The whole service on free ports, on its own PostgreSQL and Redis, each part stoppable on its own."""

    def __init__(self, paths: Paths, model: Path = DEFAULT_MODEL) -> None:
        self.paths = paths
        self.model = model
        self.postgres = ThrowawayPostgres()
        self.redis = ThrowawayRedis()
        self.ports = Ports.pick_free()
        self.env: dict[str, str] = {
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "RASA_URL": self.ports.rasa_url,
            "RASA_EVENTS_DB": str(paths.base / "rasa_events.db"),
            "RASA_TRACKER_DB": str(paths.base / "rasa_tracker.db"),
            "ACTIONS_OUTBOX_PATH": str(paths.outbox),
            # Chosen here (not by the launcher) so that the customers can speak to Rasa and the ledger knows
            # each widget session's sender id.
            "RASA_AUTH_TOKEN": generate_token(),
            "ACTION_SERVER_TOKEN": generate_token(),
            "CS_BACKEND_SERVICE_SECRET": generate_token(),
            WIDGET_SECRET_VARIABLE: generate_token(),
            REST_TOKEN_VARIABLE: generate_token(),
            # No nudges: they would write to conversations the suite does not follow.
            "ONBOARDING_NUDGE_INTERVAL_SECONDS": "0",
        }
        self.specs: dict[str, ProcessSpec] = {
            spec.name: spec for spec in service_specs(self.ports, model, self.env)
        }
        self._stacks: dict[str, ServiceStack] = {}
        self._widget_sessions = WidgetSessions(self.env[WIDGET_SECRET_VARIABLE])

    # --- the whole ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """PostgreSQL (migrated) and Redis, then the three processes at once; back when all are ready."""
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.postgres.init)
        await asyncio.to_thread(self.postgres.start)
        await asyncio.to_thread(self.redis.start)
        await asyncio.to_thread(
            subprocess.run,
            backend_command("migrate"),
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
        )
        # Every start is waited for (not only the first failure), so that `close` finds all that started.
        outcomes = await asyncio.gather(
            *(self.start_process(name) for name in self.specs), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def close(self) -> None:
        """Every process (Rasa first), then Redis, then PostgreSQL and its folder."""
        for name in (RASA, ACTIONS, BACKEND):
            stack = self._stacks.pop(name, None)
            if stack is not None:
                await asyncio.to_thread(stack.stop)
        await asyncio.to_thread(self.redis.stop)
        await asyncio.to_thread(self.postgres.remove)

    # --- one process --------------------------------------------------------------------------------------

    async def start_process(self, name: str) -> None:
        stack = ServiceStack([self.specs[name]], log_dir=self.paths.logs)
        try:
            await asyncio.to_thread(stack.start, startup_timeout(os.environ, STARTUP_TIMEOUT_SECONDS))
        except StartupError as error:
            raise RuntimeError(f"{name} did not start: {error}\n{stack.log_tails()}") from error
        self._stacks[name] = stack

    async def kill_process(self, name: str) -> None:
        """SIGKILL to the process's group: no shutdown, no flush, whatever it was doing."""
        stack = self._stacks.pop(name)
        process = stack.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait)
        await asyncio.to_thread(stack.stop)  # lets its output copy finish

    async def stop_process(self, name: str) -> None:
        """SIGTERM, then SIGKILL after the launcher's grace period: a restart as an operator does it."""
        stack = self._stacks.pop(name)
        await asyncio.to_thread(stack.stop)

    # --- what the customers and the ledger need -----------------------------------------------------------

    @property
    def rasa_url(self) -> str:
        return self.ports.rasa_url

    @property
    def rest_token(self) -> str:
        return self.env[REST_TOKEN_VARIABLE]

    def widget_sender(self, token: str) -> str:
        """The sender id Rasa's socket.io channel derives from a widget session token."""
        return self._widget_sessions.sender_id(token)

    async def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation's tracker from Rasa's HTTP API (raises while Rasa is down)."""
        url = f"{self.ports.rasa_url}/conversations/{sender}/tracker"
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                url,
                params={"token": self.env[RASA_TOKEN_VARIABLE]},
                timeout=aiohttp.ClientTimeout(total=15),
            ) as response,
        ):
            response.raise_for_status()
            tracker: dict[str, Any] = await response.json()
        return tracker

    def outbox_counts(self) -> dict[str, int]:
        """Entries of the action server's outbox by state (contract 2); empty while it has no file."""
        if not self.paths.outbox.exists():
            return {}
        with sqlite3.connect(self.paths.outbox) as connection:
            try:
                rows = connection.execute(
                    "SELECT state, count(*) FROM outbox_entries GROUP BY state"
                ).fetchall()
            except sqlite3.OperationalError:  # the table is not created yet
                return {}
        return {str(state): int(count) for state, count in rows}
