"""The action server's durable outbox: writes to cs_backend that could not be confirmed, kept until they are.

A write (ticket, rating, survey answer or comment, churn signal, onboarding start or step, website binding)
that got no answer (connection error, timeout), a 5xx after the client's retries, or an answer the client
cannot read, may or may not be stored. It is kept here with its Idempotency-Key, the exact body bytes, method
and path, and :class:`OutboxReplayer` (started by bot/action_server.py) sends the entries again, oldest first,
until cs_backend answers 2xx (`delivered`) or a final 4xx (`dead`: logged and kept for an operator). The key
makes a replay of a write the backend did store return that row, so nothing is stored twice (cs_backend
ignores the key of a survey answer: the answer replaces the survey's, so a replay is harmless anyway).

Storage: one SQLite file, `ACTIONS_OUTBOX_PATH` (default `var/actions_outbox.db` in the repository), WAL and
`synchronous=FULL`, so an entry `put` returned is on disk and survives a crash of the action server, which
replays what is pending when it starts. Table (docs/ARCHITECTURE.md, "Not losing anything"):

    outbox_entries(id INTEGER PK, idempotency_key TEXT UNIQUE, method, path, body BLOB, created_at REAL
                   (Unix seconds), attempts, last_error, state 'pending'|'delivered'|'dead', request_id)

The stdlib sqlite3 runs in a worker thread (asyncio.to_thread), one short connection per operation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

logger = logging.getLogger(__name__)

OUTBOX_PATH_ENV = "ACTIONS_OUTBOX_PATH"
DEFAULT_OUTBOX_PATH = Path(__file__).resolve().parents[2] / "var" / "actions_outbox.db"
# How long an operation waits for another process (a second Sanic worker) holding the file's lock.
_BUSY_TIMEOUT_SECONDS = 5.0
# The longest last_error kept (a backend's message, or an exception's text).
_ERROR_MAX_CHARS = 500

EntryState = Literal["pending", "delivered", "dead"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS outbox_entries_pending ON outbox_entries (state, id);
"""
_COLUMNS = "id, idempotency_key, method, path, body, created_at, attempts, last_error, state, request_id"

T = TypeVar("T")


class OutboxError(Exception):
    """The outbox could not store or read an entry (disk full, file not writable, corrupted)."""


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    idempotency_key: str
    method: str
    path: str
    body: bytes
    created_at: float
    attempts: int
    last_error: str | None
    state: EntryState
    # The X-Request-ID of the action call that queued it: the replays carry it too.
    request_id: str | None = None


@dataclass(frozen=True)
class OutboxDepth:
    """What is waiting: the number of pending entries and when the oldest was queued (None when none)."""

    pending: int
    oldest_created_at: float | None

    def oldest_age(self, now: float) -> float:
        return 0.0 if self.oldest_created_at is None else max(0.0, now - self.oldest_created_at)


def _row(values: tuple) -> OutboxEntry:
    return OutboxEntry(
        id=values[0],
        idempotency_key=values[1],
        method=values[2],
        path=values[3],
        body=bytes(values[4]),
        created_at=values[5],
        attempts=values[6],
        last_error=values[7],
        state=values[8],
        request_id=values[9],
    )


class Outbox:
    """The outbox file at `path`. Every method is a coroutine that runs sqlite3 in a thread; each raises
    :class:`OutboxError` when the file cannot be used."""

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        # Called (in the event loop) after an entry is queued: the replayer wakes up.
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- the operations -------------------------------------------------------------------------------------

    async def put(
        self, *, method: str, path: str, body: bytes, idempotency_key: str, request_id: str | None = None
    ) -> OutboxEntry:
        """Queues a write (durably, once this returns). The same key again returns the entry already kept:
        Rasa re-running an action for the same message queues nothing twice."""
        now = self._clock()

        def insert(connection: sqlite3.Connection) -> OutboxEntry:
            connection.execute(
                "INSERT INTO outbox_entries (idempotency_key, method, path, body, created_at, request_id) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
                (idempotency_key, method, path, body, now, request_id),
            )
            values = connection.execute(
                f"SELECT {_COLUMNS} FROM outbox_entries WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            return _row(values)

        entry = await self._run(insert)
        logger.info("queued %s %s in the outbox (entry %s)", method, path, entry.id)
        for listener in list(self._listeners):
            listener()
        return entry

    async def pending(self, limit: int = 100) -> list[OutboxEntry]:
        """The pending entries, oldest first."""
        return await self._run(
            lambda connection: [
                _row(values)
                for values in connection.execute(
                    f"SELECT {_COLUMNS} FROM outbox_entries WHERE state = 'pending' ORDER BY id LIMIT ?",
                    (limit,),
                )
            ]
        )

    async def entries(self) -> list[OutboxEntry]:
        """Every entry, whatever its state, oldest first."""
        return await self._run(
            lambda connection: [
                _row(values)
                for values in connection.execute(f"SELECT {_COLUMNS} FROM outbox_entries ORDER BY id")
            ]
        )

    async def mark_delivered(self, entry_id: int) -> None:
        await self._update(entry_id, "delivered", None)

    async def mark_dead(self, entry_id: int, error: str) -> None:
        await self._update(entry_id, "dead", error)

    async def record_failure(self, entry_id: int, error: str) -> None:
        """An attempt that did not settle the entry: it stays pending."""
        await self._update(entry_id, "pending", error)

    async def depth(self) -> OutboxDepth:
        def count(connection: sqlite3.Connection) -> OutboxDepth:
            pending, oldest = connection.execute(
                "SELECT count(*), min(created_at) FROM outbox_entries WHERE state = 'pending'"
            ).fetchone()
            return OutboxDepth(pending, oldest)

        return await self._run(count)

    # --- plumbing -------------------------------------------------------------------------------------------

    async def _update(self, entry_id: int, state: EntryState, error: str | None) -> None:
        error = error[:_ERROR_MAX_CHARS] if error is not None else None

        def update(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE outbox_entries SET state = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
                (state, error, entry_id),
            )

        await self._run(update)

    async def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._run_now, operation)

    def _run_now(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        try:
            connection = self._connect()
            try:
                with connection:  # one transaction: committed on success, rolled back on error
                    return operation(connection)
            finally:
                connection.close()
        except (sqlite3.Error, OSError) as error:
            raise OutboxError(f"the outbox {self.path} cannot be used: {error}") from error

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_SECONDS)
        # FULL: a committed entry is on disk before put() returns (WAL's default NORMAL may lose the last
        # commits on a power cut, and the customer was told this write is kept).
        connection.execute("PRAGMA synchronous=FULL")
        if not self._schema_ready:
            with self._schema_lock:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.executescript(_SCHEMA)
                self._schema_ready = True
        return connection


_outboxes: dict[Path, Outbox] = {}
_outboxes_lock = threading.Lock()


def outbox_path() -> Path:
    configured = os.environ.get(OUTBOX_PATH_ENV, "").strip()
    return Path(configured) if configured else DEFAULT_OUTBOX_PATH


def default_outbox() -> Outbox:
    """The outbox of this process, at ACTIONS_OUTBOX_PATH (one object per path, so that the replayer hears of
    what the actions queue)."""
    path = outbox_path().resolve()
    with _outboxes_lock:
        if path not in _outboxes:
            _outboxes[path] = Outbox(path)
        return _outboxes[path]
