"""The outcomes job: a consumer cycle (consumer.OutcomeConsumer.run_once) every OUTCOME_POLL_INTERVAL_SECONDS
inside the backend (0 disables it), the first one at startup to catch up on the events Rasa wrote meanwhile.

Run one consumer per cs_backend database, so the job holds no lock (the SQL source's cursor makes a second
consumer harmless but useless; a second RabbitMQ consumer is refused by the queue).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from aiohttp import web

from cs_backend.app_keys import DATABASE, OUTCOME_CONSUMER, SETTINGS
from cs_backend.jobs import Clock, PeriodicJob, job_context
from cs_backend.nlu_review.service import NluReviewCollector
from cs_backend.outcomes.consumer import BATCH_SIZE, CycleReport, OutcomeConsumer
from cs_backend.outcomes.sources import CursorMoved, create_source

log = logging.getLogger(__name__)

JOB_NAME = "outcomes"


def consumer_job(consumer: OutcomeConsumer, interval_seconds: float) -> PeriodicJob[CycleReport | None]:
    async def consume(clock: Clock) -> CycleReport | None:
        consumer.clock = clock  # the runner's clock decides which sessions are idle
        try:
            return await consumer.run_once()
        except CursorMoved as error:  # another consumer applied the batch first: nothing is lost
            log.warning("outcomes: %s; batch rolled back", error)
            return None

    return PeriodicJob(JOB_NAME, interval_seconds, consume, run_at_start=True)


@asynccontextmanager
async def _consumer_job_of(app: web.Application) -> AsyncIterator[PeriodicJob[CycleReport | None] | None]:
    settings = app[SETTINGS]
    interval = settings.outcome_poll_interval_seconds
    if interval <= 0:
        yield None  # off: no source is opened
        return
    source = create_source(settings.rasa_events_url, settings.rasa_events_queue, app[DATABASE], BATCH_SIZE)
    consumer = OutcomeConsumer(
        app[DATABASE],
        source,
        abandon_after=timedelta(minutes=settings.outcome_abandon_after_minutes),
        # The learning loop reads the same events, once, in the same transactions (cs_backend/nlu_review/).
        observers=(NluReviewCollector(),),
    )
    app[OUTCOME_CONSUMER] = consumer  # its lag, for GET /metrics
    log.info("outcomes: consuming %s every %s s", source.description, interval)
    try:
        yield consumer_job(consumer, interval)
    finally:
        # After the job's task ended (job_context waits for it): the RabbitMQ connection, the SQL engine.
        await source.close()


# Registered after the database context, which outlives it.
consumer_job_context = job_context(_consumer_job_of)
