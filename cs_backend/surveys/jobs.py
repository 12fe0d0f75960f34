"""The survey delivery job: pending surveys (Rasa did not take them at once) are delivered again with
backoff, and abandoned after SURVEY_DELIVERY_GIVE_UP_HOURS (delivery.py).

Runs every SURVEY_DELIVERY_INTERVAL_SECONDS inside the backend (0 disables it), at startup too (to catch up on
what accumulated while the backend was down), under an advisory lock on PostgreSQL (cs_backend.jobs).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from cs_backend.app_keys import DATABASE, RASA_CLIENT, SETTINGS
from cs_backend.config import Settings
from cs_backend.db import Database, utcnow
from cs_backend.jobs import AdvisoryLock, Clock, PeriodicJob, job_context, run_once
from cs_backend.rasa_client import RasaClient
from cs_backend.surveys.delivery import DeliveryRun, deliver_due

JOB_NAME = "survey-delivery"
# The job's advisory lock key (any constant unique within the database; "surveysd").
ADVISORY_LOCK_KEY = 0x7375727665797364


def delivery_job(db: Database, rasa: RasaClient, settings: Settings) -> PeriodicJob[DeliveryRun]:
    async def run(clock: Clock) -> DeliveryRun:
        return await deliver_due(db, rasa, settings, now=clock())

    return PeriodicJob(
        JOB_NAME,
        settings.survey_delivery_interval_seconds,
        run,
        lock=AdvisoryLock(db, ADVISORY_LOCK_KEY),
        run_at_start=True,
    )


async def run_delivery(
    db: Database, rasa: RasaClient, settings: Settings, *, clock: Clock = utcnow
) -> DeliveryRun:
    """One run of the job, as the background task runs it (under its lock)."""
    result = await run_once(delivery_job(db, rasa, settings), clock)
    return DeliveryRun(skipped=True) if result is None else result


@asynccontextmanager
async def _delivery_job_of(app: web.Application) -> AsyncIterator[PeriodicJob[DeliveryRun]]:
    yield delivery_job(app[DATABASE], app[RASA_CLIENT], app[SETTINGS])


# Registered after the database and Rasa client contexts, which outlive it.
delivery_job_context = job_context(_delivery_job_of)
