"""Settings of cs_backend, read from environment variables.

Every variable is optional; the defaults are safe for a single machine (bind to loopback, embedded SQLite,
in-process live events):

    DATABASE_URL     SQLAlchemy URL of the database.
                     Default: sqlite+aiosqlite:///<repo root>/var/cs_backend.db (var/ is created if needed).
                     Accepted: postgresql://, postgres://, postgresql+asyncpg://, sqlite:///,
                     sqlite+aiosqlite:///; normalised to the async drivers (asyncpg, aiosqlite) by
                     db.normalize_database_url.
    REDIS_URL        Redis URL for live events (pub/sub), e.g. redis://127.0.0.1:6379/0.
                     Unset or empty: live events stay inside this process (fine for one backend process).
    CS_BACKEND_HOST  Interface to bind (127.0.0.1: not reachable from other machines unless asked for).
    CS_BACKEND_PORT  Port to bind (8000).
    RASA_URL         Base URL of the Rasa server, used by the demo web page's chat widget
                     (http://127.0.0.1:5005).
    LOG_LEVEL        Python logging level name (INFO).

Nothing is read at import time: `Settings.from_env()` reads the environment when called, and tests build
`Settings(...)` explicitly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = REPO_ROOT / "var" / "cs_backend.db"
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"

# Request bodies above this size are refused with 413 (docs/API_CONTRACT.md: "larger than 64 KiB").
MAX_BODY_BYTES = 64 * 1024


class SettingsError(ValueError):
    """An environment variable has a value cs_backend cannot use."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    rasa_url: str = "http://127.0.0.1:5005"
    log_level: str = "INFO"
    # Redis pub/sub channel of the live events; tests give each test its own so runs cannot interfere.
    redis_channel: str = "cs_backend:live-events"
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        port_text = env.get("CS_BACKEND_PORT", "").strip() or "8000"
        try:
            port = int(port_text)
        except ValueError:
            raise SettingsError(f"CS_BACKEND_PORT must be a port number, got {port_text!r}") from None
        if not 0 <= port <= 65535:
            raise SettingsError(f"CS_BACKEND_PORT must be between 0 and 65535, got {port}")
        log_level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
        if not isinstance(logging.getLevelName(log_level), int):
            raise SettingsError(
                f"LOG_LEVEL must be a logging level name (DEBUG, INFO, ...), got {log_level!r}"
            )
        return cls(
            database_url=env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
            # The launcher passes REDIS_URL="" to mean "no Redis", so empty counts as unset.
            redis_url=env.get("REDIS_URL", "").strip() or None,
            host=env.get("CS_BACKEND_HOST", "").strip() or "127.0.0.1",
            port=port,
            rasa_url=env.get("RASA_URL", "").strip() or "http://127.0.0.1:5005",
            log_level=log_level,
        )
