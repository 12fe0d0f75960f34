"""What the end-to-end tests share: the running service's addresses, database and environment."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.stack import Ports


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
