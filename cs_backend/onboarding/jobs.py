"""The onboarding nudge job: stalled customers are nudged through Rasa, at most once per customer and step.

Each stalled customer (service.find_stalled) not yet nudged for their next step gets, on their most recently
active conversation, Rasa's external event

    POST {RASA_URL}/conversations/{sender_id}/trigger_intent?output_channel={channel}
    {"name": "EXTERNAL_onboarding_nudge", "entities": {"onboarding_step": "<next step key>"}}

A nudge is recorded in onboarding_nudges only once Rasa answered 2xx; a failure is logged and the nudge is
tried again on the next run. Delivery is at least once: a run cancelled between Rasa's answer and the record
sends that nudge again next time.

The job runs every ONBOARDING_NUDGE_INTERVAL_SECONDS inside the backend (0 disables it), under an advisory
lock on PostgreSQL (cs_backend.jobs), and once with `python -m cs_backend nudge-stalled` (nudge_stalled_once).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.app_keys import DATABASE, ONBOARDING_CHECKLIST, RASA_CLIENT, SETTINGS
from cs_backend.config import Settings
from cs_backend.db import Database, run_transaction, utcnow
from cs_backend.jobs import AdvisoryLock, Clock, PeriodicJob, job_context, run_once
from cs_backend.onboarding.checklist import Checklist, load_checklist
from cs_backend.onboarding.models import OnboardingNudge
from cs_backend.onboarding.service import StalledCustomer, find_stalled
from cs_backend.rasa_client import RasaClient, RasaError

log = logging.getLogger(__name__)

JOB_NAME = "onboarding-nudges"
NUDGE_INTENT = "EXTERNAL_onboarding_nudge"
NUDGE_ENTITY = "onboarding_step"
# Nudges per run at most (longest idle first); the rest go out on the next runs.
NUDGES_PER_RUN = 100
# The job's advisory lock key (any constant unique within the database; "onbnudge").
ADVISORY_LOCK_KEY = 0x6F6E626E75646765


@dataclass(frozen=True)
class NudgeRun:
    sent: int = 0
    failed: int = 0
    # Another process held the job's lock (PostgreSQL): this run did nothing.
    skipped: bool = False


async def send_nudge(rasa: RasaClient, customer: StalledCustomer) -> bool:
    """Trigger the nudge intent in the customer's conversation; True when Rasa accepted it."""
    try:
        await rasa.trigger_intent(
            customer.sender_id, NUDGE_INTENT, {NUDGE_ENTITY: customer.next_step}, customer.channel
        )
    except RasaError as error:
        log.warning(
            "onboarding nudge (%s) of customer %d not sent: %s; retried next run",
            customer.next_step,
            customer.customer_id,
            error,
        )
        return False
    return True


async def _record_nudge(db: Database, customer: StalledCustomer, sent_at: datetime) -> None:
    async def work(session: AsyncSession) -> None:
        recorded = await session.scalar(
            select(OnboardingNudge.id).where(
                OnboardingNudge.customer_id == customer.customer_id,
                OnboardingNudge.step_key == customer.next_step,
            )
        )
        if recorded is None:
            session.add(
                OnboardingNudge(
                    customer_id=customer.customer_id,
                    step_key=customer.next_step,
                    conversation_id=customer.conversation_id,
                    sent_at=sent_at,
                )
            )
            await session.flush()

    await run_transaction(db.sessions, work)


async def send_nudges(
    db: Database,
    checklist: Checklist,
    rasa: RasaClient,
    settings: Settings,
    now: datetime,
    limit: int = NUDGES_PER_RUN,
) -> NudgeRun:
    """Nudge the stalled customers not yet nudged for their next step (at most `limit`)."""
    stalled = await find_stalled(
        db,
        checklist,
        stalled_after=timedelta(hours=settings.onboarding_stalled_after_hours),
        now=now,
        exclude_nudged=True,
        limit=limit,
    )
    sent = failed = 0
    for customer in stalled:
        if await send_nudge(rasa, customer):
            await _record_nudge(db, customer, sent_at=now)
            sent += 1
        else:
            failed += 1
    if sent or failed:
        log.info("onboarding nudges: %d sent, %d failed (retried next run)", sent, failed)
    return NudgeRun(sent=sent, failed=failed)


def nudge_job(
    db: Database, checklist: Checklist, rasa: RasaClient, settings: Settings, limit: int = NUDGES_PER_RUN
) -> PeriodicJob[NudgeRun]:
    async def run(clock: Clock) -> NudgeRun:
        return await send_nudges(db, checklist, rasa, settings, now=clock(), limit=limit)

    return PeriodicJob(
        JOB_NAME,
        settings.onboarding_nudge_interval_seconds,
        run,
        lock=AdvisoryLock(db, ADVISORY_LOCK_KEY),
    )


async def run_nudges(
    db: Database,
    checklist: Checklist,
    rasa: RasaClient,
    settings: Settings,
    *,
    clock: Clock = utcnow,
    limit: int = NUDGES_PER_RUN,
) -> NudgeRun:
    """One run of the job, as the background task runs it (under its lock)."""
    result = await run_once(nudge_job(db, checklist, rasa, settings, limit), clock)
    return NudgeRun(skipped=True) if result is None else result


async def nudge_stalled_once(settings: Settings) -> NudgeRun:
    """One run outside the server (`python -m cs_backend nudge-stalled`): its own database and Rasa client.
    Raises ChecklistError when the checklist cannot be used."""
    checklist = load_checklist()
    db = Database.connect(settings.database_url)
    try:
        async with RasaClient(settings.rasa_url, auth_token=settings.rasa_auth_token) as rasa:
            return await run_nudges(db, checklist, rasa, settings)
    finally:
        await db.dispose()


@asynccontextmanager
async def _nudge_job_of(app: web.Application) -> AsyncIterator[PeriodicJob[NudgeRun]]:
    yield nudge_job(app[DATABASE], app[ONBOARDING_CHECKLIST], app[RASA_CLIENT], app[SETTINGS])


# Registered after the database, checklist and Rasa client contexts, which outlive it.
nudge_job_context = job_context(_nudge_job_of)
