"""Segments: recompute (features of every customer → K-means → one stored run) and read the latest run."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select

from cs_backend.db import Database, utcnow
from cs_backend.health_scores.features import customer_features
from cs_backend.segments.clustering import DEFAULT_SEGMENTS, cluster
from cs_backend.segments.models import SegmentRun


async def recompute(
    db: Database, *, segments: int = DEFAULT_SEGMENTS, now: datetime | None = None
) -> SegmentRun:
    now = now or utcnow()
    async with db.sessions() as session:
        features = await customer_features(session, None, now=now)
    # K-means is CPU work: off the event loop, so a recompute inside the server does not stall requests.
    found = await asyncio.to_thread(cluster, features, segments)
    run = SegmentRun(computed_at=now, customers=len(features), segments=[s.summary() for s in found])
    async with db.sessions() as session:
        session.add(run)
        await session.commit()
        await session.refresh(run)
    return run


async def latest_run(db: Database) -> SegmentRun | None:
    async with db.sessions() as session:
        return await session.scalar(
            select(SegmentRun).order_by(SegmentRun.computed_at.desc(), SegmentRun.id.desc())
        )
