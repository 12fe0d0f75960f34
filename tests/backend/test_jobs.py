"""The periodic job runner (cs_backend/jobs.py): interval, clock, error logging, the PostgreSQL advisory lock
and the app's cleanup context. Jobs here are small functions that record their calls; time is real but
short (tens of milliseconds), and a test waits for what it expects instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

import pytest
from aiohttp import web

from cs_backend.db import Database
from cs_backend.jobs import AdvisoryLock, Clock, PeriodicJob, job_context, run_once, run_periodically

NOON = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
LOCK_KEY = 0x6A6F6274657374  # "jobtest"


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def tasks_named(name: str) -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == name and not task.done()]


class Recorder:
    """A job's run: records the time it was given and fails with `failures[i]` on the i-th call, if any."""

    def __init__(self, failures: list[Exception | None] | None = None) -> None:
        self.calls: list[datetime] = []
        self.failures = failures or []

    async def __call__(self, clock: Clock) -> datetime:
        now = clock()
        self.calls.append(now)
        if len(self.calls) <= len(self.failures):
            failure = self.failures[len(self.calls) - 1]
            if failure is not None:
                raise failure
        return now


async def run_in_background(
    job: PeriodicJob[Any], until: Callable[[], bool], clock: Clock | None = None
) -> None:
    task = asyncio.create_task(run_periodically(job) if clock is None else run_periodically(job, clock))
    try:
        await wait_for(until)
    finally:
        task.cancel()
        await asyncio.wait([task])


async def test_the_injected_clock_reaches_the_run() -> None:
    run = Recorder()
    job = PeriodicJob("clocked", 60, run)
    assert await run_once(job, lambda: NOON) == NOON
    await run_in_background(PeriodicJob("clocked", 0.01, run), lambda: len(run.calls) == 3, lambda: NOON)
    assert run.calls == [NOON, NOON, NOON]


async def test_the_first_run_comes_one_interval_after_start() -> None:
    late, early = Recorder(), Recorder()
    waiting = asyncio.create_task(run_periodically(PeriodicJob("late", 1.0, late)))
    eager = asyncio.create_task(run_periodically(PeriodicJob("early", 30, early, run_at_start=True)))
    await wait_for(lambda: len(early.calls) == 1)
    await asyncio.sleep(0.1)
    assert late.calls == []
    await wait_for(lambda: len(late.calls) == 1)
    assert len(early.calls) == 1  # the next one is 30 s away
    for task in (waiting, eager):
        task.cancel()
    await asyncio.wait([waiting, eager])


async def test_a_failing_run_is_logged_once_per_kind_and_the_job_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = ConnectionError("database down")
    run = Recorder([outage, outage, outage, ValueError("bad row"), None, ConnectionError("database down")])
    caplog.set_level(logging.INFO, logger="cs_backend.jobs")

    await run_in_background(PeriodicJob("flaky", 0.01, run), lambda: len(run.calls) >= 8)

    messages = [(record.levelno, record.getMessage()) for record in caplog.records]
    failures = [record for record in caplog.records if "run failed" in record.getMessage()]
    # One traceback per kind: the outage, the bad row, then the outage again after the recovery.
    assert [record.exc_info[1] for record in failures if record.exc_info] == [
        outage,
        run.failures[3],
        run.failures[5],
    ]
    assert failures[0].getMessage() == "flaky: run failed; retrying every 0.01 s"
    assert messages.count((logging.INFO, "flaky: works again")) == 2
    assert messages[-1] == (logging.INFO, "flaky: works again")


async def test_a_zero_interval_disables_the_job(aiohttp_client: Any) -> None:
    run = Recorder()
    released: list[str] = []

    @asynccontextmanager
    async def disabled(app: web.Application) -> AsyncIterator[PeriodicJob[datetime]]:
        yield PeriodicJob("disabled", 0, run)
        released.append("released")

    @asynccontextmanager
    async def absent(app: web.Application) -> AsyncIterator[None]:
        yield None

    app = web.Application()
    app.cleanup_ctx.extend([job_context(disabled), job_context(absent)])
    client = await aiohttp_client(app)
    assert tasks_named("disabled") == []
    await asyncio.sleep(0.05)
    await client.close()
    assert run.calls == []
    assert released == ["released"]


async def test_cleanup_cancels_the_task_then_releases_the_job(aiohttp_client: Any) -> None:
    events: list[str] = []
    started = asyncio.Event()

    async def hangs(clock: Clock) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("run cancelled")
            raise

    @asynccontextmanager
    async def hanging(app: web.Application) -> AsyncIterator[PeriodicJob[None]]:
        yield PeriodicJob("hanging", 0.01, hangs)
        events.append("released")

    app = web.Application()
    app.cleanup_ctx.append(job_context(hanging))
    client = await aiohttp_client(app)
    await asyncio.wait_for(started.wait(), 5)
    assert len(tasks_named("hanging")) == 1
    await client.close()
    assert events == ["run cancelled", "released"]
    assert tasks_named("hanging") == []


async def test_a_cancelled_cleanup_stays_cancelled() -> None:
    """A job that does not stop at once (it finishes what it was doing) must not make its cleanup immune
    to cancellation: the cleanup's own CancelledError propagates."""
    finishing = asyncio.Event()

    async def stubborn(clock: Clock) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await finishing.wait()  # the run finishes its work before it lets the cancellation through
            raise

    @asynccontextmanager
    async def job(app: web.Application) -> AsyncIterator[PeriodicJob[None]]:
        yield PeriodicJob("stubborn", 0.01, stubborn, run_at_start=True)

    context = job_context(job)(web.Application())
    await anext(context)
    await wait_for(lambda: len(tasks_named("stubborn")) == 1)
    await asyncio.sleep(0.02)  # the run is waiting now
    cleanup = asyncio.create_task(anext(context, None))
    await asyncio.sleep(0.05)
    assert not cleanup.done()  # waiting for the run to finish
    cleanup.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cleanup
    finishing.set()
    await wait_for(lambda: tasks_named("stubborn") == [])


async def test_while_one_process_holds_the_lock_the_others_skip_their_run(
    migrated_database_url: str, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two Database objects stand for two backend processes. On PostgreSQL the second one's run is skipped
    while the first one runs; SQLite deployments run one process, so there both run."""
    caplog.set_level(logging.INFO, logger="cs_backend.jobs")
    first_process = Database.connect(migrated_database_url)
    second_process = Database.connect(migrated_database_url)
    running, finish = asyncio.Event(), asyncio.Event()

    async def long_run(clock: Clock) -> str:
        running.set()
        await finish.wait()
        return "first"

    async def second_run(clock: Clock) -> str:
        return "second"

    try:
        first = asyncio.create_task(
            run_once(PeriodicJob("locked", 60, long_run, lock=AdvisoryLock(first_process, LOCK_KEY)))
        )
        await asyncio.wait_for(running.wait(), 5)
        second = PeriodicJob("locked", 60, second_run, lock=AdvisoryLock(second_process, LOCK_KEY))
        if backend == "postgres":
            assert await run_once(second) is None
            assert "locked: another process is running this job; skipping this run" in caplog.text
        else:
            assert await run_once(second) == "second"
        finish.set()
        assert await first == "first"
        assert await run_once(second) == "second"  # the lock is released when the run ends
        # A job without a lock never skips.
        assert await run_once(PeriodicJob("unlocked", 60, second_run)) == "second"
    finally:
        finish.set()
        await first_process.dispose()
        await second_process.dispose()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_failed_run_releases_the_lock(migrated_database_url: str) -> None:
    database = Database.connect(migrated_database_url)
    lock = AdvisoryLock(database, LOCK_KEY)
    try:
        with pytest.raises(RuntimeError):
            await run_once(PeriodicJob("fails", 60, Recorder([RuntimeError("boom")]), lock=lock))
        assert await run_once(PeriodicJob("fails", 60, Recorder(), lock=lock), lambda: NOON) == NOON
    finally:
        await database.dispose()
