"""The SLA timers of handoffs, checked by one periodic job (cs_backend/jobs.py) with an injected clock:

- accept (ROUTING_ACCEPT_SECONDS from the offer): the offer lapses; the handoff goes back to the queue, is
  offered to the next eligible agent, and never again to the agent who let it lapse;
- first response (ROUTING_FIRST_RESPONSE_SECONDS from acceptance): the agent has not answered; the same as a
  lapsed offer (back to the queue, to someone else);
- resolution (ROUTING_RESOLUTION_SECONDS from queueing): once per handoff.

Every breach is recorded (sla_breaches), escalates the handoff (its priority one step up, so it moves ahead
in the queue) and is published as the live event `handoff.sla_breached`. Each run then offers what can be
offered (business hours may have opened) and rebuilds the live state if it was lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select, update

from cs_backend.app_keys import ROUTING_ENGINE, SETTINGS
from cs_backend.config import Settings
from cs_backend.db import Database
from cs_backend.jobs import AdvisoryLock, Clock, PeriodicJob, job_context
from cs_backend.live_events import publish_safely
from cs_backend.routing.models import HandoffRequest, SlaBreach
from cs_backend.routing.schemas import HandoffOut
from cs_backend.routing.selection import raised
from cs_backend.routing.service import RoutingEngine

JOB_NAME = "routing-sla"
# The job's advisory lock key ("routesla").
ADVISORY_LOCK_KEY = 0x726F757465736C61


@dataclass(frozen=True)
class SlaTimers:
    accept: timedelta
    first_response: timedelta
    resolution: timedelta

    @classmethod
    def of(cls, settings: Settings) -> SlaTimers:
        return cls(
            accept=timedelta(seconds=settings.routing_accept_seconds),
            first_response=timedelta(seconds=settings.routing_first_response_seconds),
            resolution=timedelta(seconds=settings.routing_resolution_seconds),
        )


@dataclass(frozen=True)
class SlaRun:
    breaches: int = 0
    requeued: int = 0
    offered: int = 0


async def _record_breach(
    db: Database, handoff: HandoffRequest, kind: str, now: datetime
) -> HandoffRequest | None:
    """Record the breach and raise the priority, unless the handoff changed since it was read (then None)."""
    async with db.sessions() as session:
        escalated = raised(handoff.priority)
        result = await session.execute(
            update(HandoffRequest)
            .where(
                HandoffRequest.id == handoff.id,
                HandoffRequest.state == handoff.state,
                HandoffRequest.priority == handoff.priority,
            )
            .values(priority=escalated, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            return None
        session.add(
            SlaBreach(
                handoff_id=handoff.id,
                kind=kind,
                agent_id=handoff.agent_id,
                breached_at=now,
                priority_before=handoff.priority,
                priority_after=escalated,
            )
        )
        await session.commit()
        return await session.get(HandoffRequest, handoff.id, populate_existing=True)


async def check_slas(engine: RoutingEngine, timers: SlaTimers, now: datetime) -> SlaRun:
    db = engine.db
    async with db.sessions() as session:
        lapsed_offers = list(
            await session.scalars(
                select(HandoffRequest).where(
                    HandoffRequest.state == "assigned", HandoffRequest.offered_at <= now - timers.accept
                )
            )
        )
        unanswered = list(
            await session.scalars(
                select(HandoffRequest).where(
                    HandoffRequest.state == "accepted",
                    HandoffRequest.first_response_at.is_(None),
                    HandoffRequest.accepted_at <= now - timers.first_response,
                )
            )
        )
        already_late = select(SlaBreach.handoff_id).where(SlaBreach.kind == "resolution")
        overdue = list(
            await session.scalars(
                select(HandoffRequest).where(
                    HandoffRequest.state.in_(("queued", "assigned", "accepted")),
                    HandoffRequest.queued_at <= now - timers.resolution,
                    HandoffRequest.id.not_in(already_late),
                )
            )
        )
    breaches = requeued = 0
    for kind, handoffs in (("accept", lapsed_offers), ("first_response", unanswered)):
        for handoff in handoffs:
            escalated = await _record_breach(db, handoff, kind, now)
            if escalated is None:
                continue
            breaches += 1
            await _publish_breach(engine, escalated, kind)
            await engine.requeue_after_breach(escalated, kind)
            requeued += 1
    for handoff in overdue:
        if any(h.id == handoff.id for h in (*lapsed_offers, *unanswered)):
            handoff = await engine.get_handoff(handoff.id)
        escalated = await _record_breach(db, handoff, "resolution", now)
        if escalated is None:
            continue
        breaches += 1
        await engine.mirror(escalated)
        await _publish_breach(engine, escalated, "resolution")
    await engine.ensure_built()
    offered = await engine.dispatch()
    return SlaRun(breaches=breaches, requeued=requeued, offered=len(offered))


async def _publish_breach(engine: RoutingEngine, handoff: HandoffRequest, kind: str) -> None:
    payload = {"kind": kind, "handoff": HandoffOut.model_validate(handoff).model_dump(mode="json")}
    await publish_safely(engine.events, "handoff.sla_breached", payload)


def sla_job(engine: RoutingEngine, settings: Settings) -> PeriodicJob[SlaRun]:
    timers = SlaTimers.of(settings)

    async def run(clock: Clock) -> SlaRun:
        return await check_slas(engine, timers, clock())

    return PeriodicJob(
        JOB_NAME,
        settings.routing_sla_interval_seconds,
        run,
        lock=AdvisoryLock(engine.db, ADVISORY_LOCK_KEY),
        run_at_start=True,
    )


@asynccontextmanager
async def _sla_job_of(app: web.Application) -> AsyncIterator[PeriodicJob[SlaRun]]:
    yield sla_job(app[ROUTING_ENGINE], app[SETTINGS])


# Registered after the routing engine's context, which outlives it.
sla_job_context = job_context(_sla_job_of)
