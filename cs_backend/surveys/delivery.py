"""Delivering a survey: Rasa is asked to run it in the customer's conversation, at least once, retried with
backoff by the delivery job (jobs.py) until Rasa takes it, abandoned after SURVEY_DELIVERY_GIVE_UP_HOURS.

    POST {RASA_URL}/conversations/{sender_id}/trigger_intent?output_channel={channel}
    {"name": "EXTERNAL_survey_request",
     "entities": {"survey_id": <id>, "survey_trigger": "ticket_resolved", "survey_subject": <ticket id>}}

An attempt first claims the survey in SQL (next_attempt_at moved a lease ahead), so the immediate delivery of
a resolved ticket and the job never send the same survey at once. A survey is `sent` only once Rasa answered
2xx; a crash between Rasa's answer and that record sends it again after the lease (the bot asks nothing for a
survey already answered).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select, update

from cs_backend.config import Settings
from cs_backend.db import Database, utcnow
from cs_backend.rasa_client import RasaClient, RasaError
from cs_backend.surveys.models import Survey

log = logging.getLogger(__name__)

SURVEY_INTENT = "EXTERNAL_survey_request"
# An attempt holds the survey this long (well over the Rasa client's 10 s timeout).
ATTEMPT_LEASE = timedelta(minutes=2)
# Retries wait 1, 2, 4, ... minutes, at most an hour.
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
ERROR_LENGTH = 500

Outcome = Literal["sent", "failed", "abandoned", "skipped"]


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


async def _claim(db: Database, survey_id: int, now: datetime) -> Survey | None:
    """The pending survey, now held by this attempt; None if it is not pending or another attempt holds it."""
    async with db.sessions() as session:
        claimed = await session.execute(
            update(Survey)
            .where(
                Survey.id == survey_id,
                Survey.state == "pending",
                or_(Survey.next_attempt_at.is_(None), Survey.next_attempt_at <= now),
            )
            .values(next_attempt_at=now + ATTEMPT_LEASE)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            return None
        await session.commit()
        return await session.get(Survey, survey_id)


async def _finish(db: Database, survey_id: int, **values: object) -> None:
    async with db.sessions() as session:
        await session.execute(
            update(Survey)
            .where(Survey.id == survey_id, Survey.state == "pending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


async def deliver(
    db: Database, rasa: RasaClient, settings: Settings, survey_id: int, now: datetime
) -> Outcome:
    """One delivery attempt of a pending survey whose turn it is."""
    survey = await _claim(db, survey_id, now)
    if survey is None:
        return "skipped"
    if survey.sender_id is None or survey.channel is None:
        await _finish(db, survey_id, state="abandoned", next_attempt_at=None)
        return "abandoned"
    if now - survey.created_at >= timedelta(hours=settings.survey_delivery_give_up_hours):
        log.warning(
            "survey %d abandoned: not delivered in %g hours",
            survey_id,
            settings.survey_delivery_give_up_hours,
        )
        await _finish(db, survey_id, state="abandoned", next_attempt_at=None)
        return "abandoned"
    entities = {"survey_id": survey.id, "survey_trigger": survey.trigger, "survey_subject": survey.subject_id}
    try:
        await rasa.trigger_intent(survey.sender_id, SURVEY_INTENT, entities, survey.channel)
    except RasaError as error:
        attempts = survey.delivery_attempts + 1
        log.warning("survey %d not delivered (attempt %d): %s; retried later", survey_id, attempts, error)
        await _finish(
            db,
            survey_id,
            delivery_attempts=attempts,
            next_attempt_at=now + retry_delay(attempts),
            last_error=str(error)[:ERROR_LENGTH],
        )
        return "failed"
    await _finish(
        db,
        survey_id,
        state="sent",
        sent_at=now,
        next_attempt_at=None,
        delivery_attempts=survey.delivery_attempts + 1,
        last_error=None,
    )
    return "sent"


@dataclass(frozen=True)
class DeliveryRun:
    sent: int = 0
    failed: int = 0
    abandoned: int = 0
    # Another process held the job's lock (PostgreSQL): this run did nothing.
    skipped: bool = False


async def deliver_due(
    db: Database, rasa: RasaClient, settings: Settings, now: datetime, limit: int = 100
) -> DeliveryRun:
    """Deliver the pending surveys whose turn it is (oldest first, at most `limit`)."""
    async with db.sessions() as session:
        due = list(
            await session.scalars(
                select(Survey.id)
                .where(
                    Survey.state == "pending",
                    or_(Survey.next_attempt_at.is_(None), Survey.next_attempt_at <= now),
                )
                .order_by(Survey.id)
                .limit(limit)
            )
        )
    counts = {"sent": 0, "failed": 0, "abandoned": 0, "skipped": 0}
    for survey_id in due:
        counts[await deliver(db, rasa, settings, survey_id, now)] += 1
    if counts["sent"] or counts["failed"] or counts["abandoned"]:
        log.info(
            "surveys: %d delivered, %d failed (retried later), %d abandoned",
            counts["sent"],
            counts["failed"],
            counts["abandoned"],
        )
    return DeliveryRun(sent=counts["sent"], failed=counts["failed"], abandoned=counts["abandoned"])


class SurveyCourier:
    """Delivers a survey right after it is opened, in a task of its own so the request that opened it (an
    agent resolving a ticket) never waits for Rasa; what fails is left to the delivery job."""

    def __init__(self, db: Database, rasa: RasaClient, settings: Settings) -> None:
        self._db = db
        self._rasa = rasa
        self._settings = settings
        self._tasks: set[asyncio.Task[Outcome]] = set()

    def deliver_soon(self, survey_id: int) -> None:
        task = asyncio.create_task(self._deliver(survey_id), name=f"survey-{survey_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, survey_id: int) -> Outcome:
        try:
            return await deliver(self._db, self._rasa, self._settings, survey_id, utcnow())
        except Exception:  # the job retries it; the error must not vanish silently
            log.exception("survey %d: immediate delivery failed; the delivery job retries it", survey_id)
            return "failed"

    async def settle(self) -> None:
        """Wait for the deliveries under way (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.settle()
