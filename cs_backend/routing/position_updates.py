"""Queued customers are told their new place in the queue and the estimated wait when it changes: a periodic
job (cs_backend/jobs.py) every ROUTING_POSITION_UPDATE_SECONDS, under an advisory lock on PostgreSQL.

A customer hears an update only when their position differs from the one they were last told (the answer to
the handoff request counts as telling), and at most once per interval (`told_position_at`), whatever the
number of processes. Updates go out through Rasa (customer_relay.py) a few at a time (MAX_CONCURRENT_RELAYS);
one that fails is not recorded, so the next run tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from aiohttp import web
from sqlalchemy import or_, select, update

from cs_backend.app_keys import HANDOFF_MESSAGING, SETTINGS
from cs_backend.db import Database
from cs_backend.jobs import AdvisoryLock, Clock, PeriodicJob, job_context
from cs_backend.routing.customer_relay import CustomerRelay
from cs_backend.routing.models import HandoffRequest
from cs_backend.routing.service import RoutingEngine
from cs_backend.routing.wait_estimate import wait_basis, wait_minutes

JOB_NAME = "routing-position-updates"
# The job's advisory lock key ("routepos").
ADVISORY_LOCK_KEY = 0x726F757465706F73
MAX_CONCURRENT_RELAYS: Final = 8
# Every queued handoff's position is read from the live queue in one call.
QUEUE_READ_LIMIT: Final = 1_000_000


@dataclass(frozen=True)
class PositionRun:
    told: int = 0
    failed: int = 0


async def record_told(db: Database, handoff_id: int, position: int, at: datetime) -> None:
    """The customer was told this position (by the job, or in the answer to their handoff request)."""
    async with db.sessions() as session:
        await session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id == handoff_id)
            .values(told_position=position, told_position_at=at)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


async def tell_positions(
    engine: RoutingEngine, relay: CustomerRelay, interval: timedelta, now: datetime
) -> PositionRun:
    queued, _, _ = await engine.queue_page(limit=QUEUE_READ_LIMIT, offset=0)
    positions = {handoff.id: position for position, handoff in enumerate(queued, start=1)}
    async with engine.db.sessions() as session:
        due = list(
            await session.scalars(
                select(HandoffRequest).where(
                    HandoffRequest.state == "queued",
                    or_(
                        HandoffRequest.told_position_at.is_(None),
                        HandoffRequest.told_position_at <= now - interval,
                    ),
                )
            )
        )
        changed = [h for h in due if h.id in positions and positions[h.id] != h.told_position]
        basis = await wait_basis(session, now) if changed else None
    limit = asyncio.Semaphore(MAX_CONCURRENT_RELAYS)

    async def tell(handoff: HandoffRequest) -> bool:
        assert basis is not None
        position = positions[handoff.id]
        async with limit:
            minutes = wait_minutes(basis.seconds(handoff, position))
            if not await relay.queued(handoff, position, minutes):
                return False
        await record_told(engine.db, handoff.id, position, now)
        return True

    results = await asyncio.gather(*(tell(handoff) for handoff in changed))
    return PositionRun(told=sum(results), failed=len(results) - sum(results))


def position_job(
    engine: RoutingEngine, relay: CustomerRelay, interval_seconds: float
) -> PeriodicJob[PositionRun]:
    interval = timedelta(seconds=max(interval_seconds, 0))

    async def run(clock: Clock) -> PositionRun:
        return await tell_positions(engine, relay, interval, clock())

    return PeriodicJob(JOB_NAME, interval_seconds, run, lock=AdvisoryLock(engine.db, ADVISORY_LOCK_KEY))


@asynccontextmanager
async def _position_job_of(app: web.Application) -> AsyncIterator[PeriodicJob[PositionRun]]:
    messaging = app[HANDOFF_MESSAGING]
    yield position_job(messaging.engine, messaging.relay, app[SETTINGS].routing_position_update_seconds)


# Registered after the messaging context (the engine and the Rasa client), which outlives it.
position_job_context = job_context(_position_job_of)
