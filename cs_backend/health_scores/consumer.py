"""The consumer of the health signals (health_scores/signals.py): reads them in batches, rescores their
customers (features, score, history: one transaction), raises the red alerts, and only then acknowledges
them, so a crash or a failed rescore leaves them to be read again. Runs in a task of its own from a cleanup
context of the app, next to a periodic job that turns newly decided conversation outcomes into signals
(the outcomes domain decides them in its own job)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import and_, func, select

from cs_backend.alerts.service import AlertServices
from cs_backend.app_keys import DATABASE, HEALTH_SCORER, HEALTH_SIGNALS, SETTINGS
from cs_backend.conversations.models import Conversation
from cs_backend.db import Database, utcnow
from cs_backend.health_scores import service
from cs_backend.health_scores.scoring import Scorer
from cs_backend.health_scores.signals import HealthSignals
from cs_backend.jobs import AdvisoryLock, Clock, PeriodicJob, job_context
from cs_backend.outcomes.models import ConversationOutcome, OutcomeCursor

log = logging.getLogger(__name__)

BATCH_SIZE = 100
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
OUTCOMES_JOB_NAME = "health-outcome-signals"
# The job's advisory lock key ("hlthoutc").
OUTCOMES_LOCK_KEY = 0x686C74686F757463
# Its place in outcome_cursors: the id of the last conversation outcome signalled.
OUTCOMES_CURSOR = "health-signals:conversation_outcomes"
OUTCOMES_BATCH = 500


@dataclass
class SignalConsumer:
    signals: HealthSignals
    db: Database
    scorer: Scorer
    alerts: AlertServices
    block_seconds: float = 1.0
    batch_size: int = BATCH_SIZE

    async def handle_once(self) -> int:
        """Read one batch and handle it; how many signals it held."""
        batch = await self.signals.read(self.batch_size, self.block_seconds)
        if not batch:
            return 0
        reasons = {signal.customer_id: signal.reason for signal in batch if signal.customer_id > 0}
        try:
            rescored = await service.rescore(self.db, self.scorer, list(reasons), reasons)
            await service.alert_on_red(self.alerts, rescored)
        except BaseException:
            await self.signals.release(batch)
            raise
        await self.signals.ack(batch)
        return len(batch)

    async def run(self) -> None:
        """Handle signals until cancelled; a failure is logged once per kind and retried with backoff."""
        failures = 0
        last_failure: str | None = None
        while True:
            try:
                await self.handle_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the consumer must outlive a database or Redis outage
                failure = f"{error.__class__.__name__}: {error}"
                if failure != last_failure:
                    log.exception("health signals: handling failed; retrying")
                    last_failure = failure
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1
            else:
                if last_failure is not None:
                    log.info("health signals: handled again")
                failures, last_failure = 0, None


async def signal_new_outcomes(db: Database, signals: HealthSignals) -> int:
    """Publish a signal for each conversation outcome decided since the last look; how many. The first look
    starts from the outcomes present then (the past is what `health-rescore` is for)."""
    async with db.sessions() as session:
        cursor = await session.get(OutcomeCursor, OUTCOMES_CURSOR)
        if cursor is None:
            latest = await session.scalar(select(func.max(ConversationOutcome.id)))
            session.add(OutcomeCursor(source=OUTCOMES_CURSOR, last_event_id=latest or 0, updated_at=utcnow()))
            await session.commit()
            return 0
        found = (
            await session.execute(
                select(ConversationOutcome.id, ConversationOutcome.outcome, Conversation.customer_id)
                .outerjoin(
                    Conversation,
                    and_(
                        Conversation.sender_id == ConversationOutcome.sender_id,
                        Conversation.channel == ConversationOutcome.channel,
                    ),
                )
                .where(ConversationOutcome.id > cursor.last_event_id)
                .order_by(ConversationOutcome.id)
                .limit(OUTCOMES_BATCH)
            )
        ).all()
        if not found:
            return 0
        for _, outcome, customer_id in found:
            await signals.publish(customer_id, f"outcome.{outcome}")
        cursor.last_event_id = found[-1][0]
        cursor.updated_at = utcnow()
        await session.commit()
        return len(found)


@asynccontextmanager
async def _outcomes_job_of(app: web.Application) -> AsyncIterator[PeriodicJob[int] | None]:
    db, signals = app[DATABASE], app[HEALTH_SIGNALS]

    async def run(clock: Clock) -> int:
        return await signal_new_outcomes(db, signals)

    interval = app[SETTINGS].health_signals_poll_seconds
    yield PeriodicJob(
        OUTCOMES_JOB_NAME, interval, run, lock=AdvisoryLock(db, OUTCOMES_LOCK_KEY), run_at_start=True
    )


async def consumer_context(app: web.Application) -> AsyncIterator[None]:
    """Runs the consumer in a task from startup until cleanup (off when HEALTH_SIGNALS_POLL_SECONDS is 0)."""
    settings = app[SETTINGS]
    if settings.health_signals_poll_seconds <= 0:
        yield
        return
    consumer = SignalConsumer(
        app[HEALTH_SIGNALS],
        app[DATABASE],
        app[HEALTH_SCORER],
        AlertServices.of(app),
        block_seconds=settings.health_signals_poll_seconds,
    )
    task = asyncio.create_task(consumer.run(), name="health-signals-consumer")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])


# Registered after the resources they use (database, signals, scorer, live events).
outcomes_job_context = job_context(_outcomes_job_of)
