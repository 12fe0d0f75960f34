"""The outcomes job (cs_backend/outcomes/jobs.py): the consumer's cycles on the shared runner, with a
recording event source in place of Rasa's broker (the consumer itself is tested in test_outcomes_sources.py
and test_outcomes_rabbitmq.py, the whole app in test_outcomes_api.py)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.config import Settings
from cs_backend.db import Database
from cs_backend.jobs import run_once
from cs_backend.main import create_app
from cs_backend.outcomes import jobs as outcomes_jobs
from cs_backend.outcomes.consumer import CycleReport, OutcomeConsumer
from cs_backend.outcomes.sources import Batch, CursorMoved

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])  # the job is the subject; the database is not
NOON = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


class RecordingSource:
    """An event source with nothing to read; records what the consumer and the job do with it."""

    description = "the recording source"

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls: list[str] = []
        self.fail_with = fail_with

    async def fetch(self, limit: int) -> Batch:
        self.calls.append("fetch")
        if self.fail_with is not None:
            raise self.fail_with
        return Batch([], drained=True)

    async def commit(self, session: AsyncSession, batch: Batch) -> None:
        self.calls.append("commit")

    async def acknowledge(self, batch: Batch) -> None:
        self.calls.append("acknowledge")

    async def close(self) -> None:
        self.calls.append("close")


@SQLITE_ONLY
async def test_a_cycle_runs_on_the_runners_clock(migrated_database_url: str) -> None:
    database = Database.connect(migrated_database_url)
    consumer = OutcomeConsumer(database, RecordingSource(), abandon_after=timedelta(minutes=30))
    try:
        assert await run_once(outcomes_jobs.consumer_job(consumer, 60), lambda: NOON) == CycleReport()
        assert consumer.clock() == NOON
    finally:
        await database.dispose()


@SQLITE_ONLY
async def test_a_moved_cursor_is_a_warning_not_a_failure(
    migrated_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database.connect(migrated_database_url)
    source = RecordingSource(fail_with=CursorMoved("the cursor of the recording source moved"))
    consumer = OutcomeConsumer(database, source, abandon_after=timedelta(minutes=30))
    try:
        assert await run_once(outcomes_jobs.consumer_job(consumer, 60)) is None
    finally:
        await database.dispose()
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert [record.getMessage() for record in warnings] == [
        "outcomes: the cursor of the recording source moved; batch rolled back"
    ]
    assert warnings[0].exc_info is None


def _job_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == outcomes_jobs.JOB_NAME]


@SQLITE_ONLY
async def test_the_app_reads_at_startup_and_closes_the_source_after_the_job(
    aiohttp_client: Any, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = RecordingSource()
    monkeypatch.setattr(outcomes_jobs, "create_source", lambda *args: source)
    settings = Settings(database_url=migrated_database_url, redis_url=None, outcome_poll_interval_seconds=30)
    client = await aiohttp_client(create_app(settings))
    deadline = asyncio.get_running_loop().time() + 5
    while "fetch" not in source.calls:  # the first cycle comes at startup, not 30 s later
        assert asyncio.get_running_loop().time() < deadline, "no cycle at startup"
        await asyncio.sleep(0.01)
    assert len(_job_tasks()) == 1
    await client.close()
    assert _job_tasks() == []
    assert source.calls == ["fetch", "close"]
