"""The periodic runner every background job of the backend uses.

A job is a name, an interval and an async `run(clock)`; each domain declares its jobs in its own `jobs.py`
and registers them with `job_context`. The runner keeps, in one place, what every job needs:

- the interval: 0 (or less) disables the job; the first run comes one interval after startup unless the job
  asks to run at startup;
- an optional PostgreSQL advisory lock (`pg_try_advisory_xact_lock`), so several backend processes never run
  the same job at once: a process that finds the lock taken skips that run (SQLite means one process, so the
  job always runs there);
- the clock, passed to every run, so tests inject time;
- error handling: a failed run never ends the job; its traceback is logged once per kind of failure, and the
  first run that succeeds again logs the recovery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from aiohttp import web
from sqlalchemy import text

from cs_backend.db import Database, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class AdvisoryLock:
    """A PostgreSQL advisory lock key (any constant unique within the database) held during each run."""

    database: Database
    key: int


@dataclass(frozen=True)
class PeriodicJob(Generic[T]):
    name: str
    interval_seconds: float
    run: Callable[[Clock], Awaitable[T]]
    lock: AdvisoryLock | None = None
    # Run once right at startup too (to catch up on what accumulated while the backend was down).
    run_at_start: bool = False


@asynccontextmanager
async def _holding(lock: AdvisoryLock) -> AsyncIterator[bool]:
    """True when this process may run now; the transaction-level lock is released when the run ends,
    even if it fails."""
    if lock.database.engine.dialect.name != "postgresql":
        yield True
        return
    async with lock.database.engine.connect() as connection:
        acquired = await connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock.key})
        try:
            yield bool(acquired)
        finally:
            await connection.rollback()


async def run_once(job: PeriodicJob[T], clock: Clock = utcnow) -> T | None:
    """One run of the job under its lock: the run's result, or None when another process held the lock."""
    if job.lock is None:
        return await job.run(clock)
    async with _holding(job.lock) as acquired:
        if not acquired:
            log.info("%s: another process is running this job; skipping this run", job.name)
            return None
        return await job.run(clock)


async def run_periodically(job: PeriodicJob[Any], clock: Clock = utcnow) -> None:
    """Run the job every interval until cancelled; a failed run is logged and the next run comes anyway."""
    last_failure: str | None = None
    if not job.run_at_start:
        await asyncio.sleep(job.interval_seconds)
    while True:
        try:
            await run_once(job, clock)
        except Exception as error:  # the job must outlive a database or network outage
            failure = f"{error.__class__.__name__}: {error}"
            if failure != last_failure:
                log.exception("%s: run failed; retrying every %g s", job.name, job.interval_seconds)
                last_failure = failure
        else:
            if last_failure is not None:
                log.info("%s: works again", job.name)
                last_failure = None
        await asyncio.sleep(job.interval_seconds)


# Builds the app's job from the app's resources on startup (None: the job is off), and releases what only
# the job used once the job has stopped.
JobFactory = Callable[[web.Application], AbstractAsyncContextManager[PeriodicJob[Any] | None]]
CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def job_context(make_job: JobFactory) -> CleanupContext:
    """A cleanup context of the app that runs the job in a task from startup until cleanup.

    Register it after the contexts of the resources the job uses (the database, ...), so they outlive it.
    """

    async def context(app: web.Application) -> AsyncIterator[None]:
        async with make_job(app) as job:
            if job is None or job.interval_seconds <= 0:
                yield
                return
            task = asyncio.create_task(run_periodically(job), name=job.name)
            try:
                yield
            finally:
                task.cancel()
                # wait() neither raises the task's CancelledError nor swallows a cancellation of this cleanup.
                await asyncio.wait([task])

    return context
