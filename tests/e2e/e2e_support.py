"""What the end-to-end tests share: the running service's addresses and how to skip or fail without it."""

from __future__ import annotations

import os
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.launcher import Ports

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail under CI=true, where everything must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: end-to-end tests must run, not skip)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningService:
    ports: Ports
    database_path: Path
    log_dir: Path
    env: dict[str, str]  # what the service runs with (DATABASE_URL, RASA_URL, ...), for its CLI commands

    def query(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Read the service's database directly: what was stored, not what the API says."""
        with sqlite3.connect(self.database_path) as connection:
            connection.row_factory = sqlite3.Row
            return connection.execute(sql, params).fetchall()
