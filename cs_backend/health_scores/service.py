"""Health scores: rescoring customers (features, score, the current row and its history in one transaction),
the red alert on entering red, and the reads of the routes."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.alerts.service import AlertServices, raise_alert
from cs_backend.api.errors import NotFound
from cs_backend.customers.models import Customer
from cs_backend.db import Database, run_transaction, utcnow
from cs_backend.health_scores.features import CHUNK_SIZE, customer_features
from cs_backend.health_scores.models import Band, HealthScore, HealthScoreHistory
from cs_backend.health_scores.schemas import HealthHistoryQuery, HealthListQuery
from cs_backend.health_scores.scoring import Scorer, feature_matrix
from cs_backend.onboarding.checklist import Checklist
from cs_backend.paging import Page, fetch_page, where_given

log = logging.getLogger(__name__)

REASON_MAX_LENGTH = 64


@dataclass(frozen=True)
class Rescored:
    customer_id: int
    score: int
    band: Band
    factors: list[dict[str, Any]]
    # The band before this rescore; None for the customer's first score.
    previous_band: str | None
    history_id: int
    computed_at: datetime

    @property
    def entered_red(self) -> bool:
        return self.band == "red" and self.previous_band != "red"


@dataclass(frozen=True)
class Computed:
    """A score computed for a read, not stored (a customer not scored yet)."""

    customer_id: int
    score: int
    band: Band
    factors: list[dict[str, Any]]
    computed_at: datetime
    churn_probability: float | None = None
    model_version: str | None = None


async def _score(
    session: AsyncSession,
    scorer: Scorer,
    customer_ids: Sequence[int],
    now: datetime,
    checklist: Checklist | None,
) -> list[tuple[int, int, Band, list[dict[str, Any]]]]:
    features = await customer_features(session, customer_ids, now=now, checklist=checklist)
    if not features:
        return []
    matrix = feature_matrix(features)
    batch = scorer.score_batch(matrix)
    return [
        (customer.customer_id, int(batch.scores[row]), batch.band(row), scorer.explain(batch, matrix, row))
        for row, customer in enumerate(features)
    ]


def _upsert(session: AsyncSession) -> Any:
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(HealthScore)
    # The churn model's columns are the churn domain's: a rescore leaves them as they are.
    return statement.on_conflict_do_update(
        index_elements=[HealthScore.customer_id],
        set_={
            "score": statement.excluded.score,
            "band": statement.excluded.band,
            "factors": statement.excluded.factors,
            "computed_at": statement.excluded.computed_at,
        },
    )


async def _rescore_chunk(
    session: AsyncSession,
    scorer: Scorer,
    chunk: Sequence[int],
    reason: str | Mapping[int, str],
    moment: datetime,
    checklist: Checklist | None,
) -> list[Rescored]:
    # Locks the current rows (PostgreSQL), so two processes rescoring one customer take turns and only one
    # of them sees the move into red.
    previous = dict(
        (
            await session.execute(
                select(HealthScore.customer_id, HealthScore.band)
                .where(HealthScore.customer_id.in_(chunk))
                .with_for_update()
            )
        ).all()
    )
    scored = await _score(session, scorer, chunk, moment, checklist)
    if not scored:
        return []
    rows = [
        {"customer_id": cid, "score": score, "band": band, "factors": factors, "computed_at": moment}
        for cid, score, band, factors in scored
    ]
    await session.execute(_upsert(session), rows)
    history = [
        HealthScoreHistory(
            **row, reason=(reason if isinstance(reason, str) else reason[cid])[:REASON_MAX_LENGTH]
        )
        for row, (cid, _, _, _) in zip(rows, scored, strict=True)
    ]
    session.add_all(history)
    await session.flush()
    return [
        Rescored(cid, score, band, factors, previous.get(cid), entry.id, moment)
        for (cid, score, band, factors), entry in zip(scored, history, strict=True)
    ]


async def rescore(
    db: Database,
    scorer: Scorer,
    customer_ids: Sequence[int],
    reason: str | Mapping[int, str],
    *,
    now: datetime | None = None,
    checklist: Checklist | None = None,
) -> list[Rescored]:
    """Score these customers now, replace their current score and add it to their history (with `reason`,
    or each customer's reason): one transaction per CHUNK_SIZE customers. Unknown (deleted) customers are
    skipped."""
    done: list[Rescored] = []
    wanted = sorted(set(customer_ids))
    for start in range(0, len(wanted), CHUNK_SIZE):
        work = partial(
            _rescore_chunk,
            scorer=scorer,
            chunk=wanted[start : start + CHUNK_SIZE],
            reason=reason,
            moment=now or utcnow(),
            checklist=checklist,
        )
        done.extend(await run_transaction(db.sessions, work))
    return done


def _factor_line(factor: dict[str, Any]) -> str:
    return f"{factor['label']}: {factor['value']:g} ({factor['points']:+g} points)"


async def alert_on_red(services: AlertServices, rescored: Sequence[Rescored]) -> int:
    """Raise a health_red alert for each customer that has just entered red (once per move: the alert's
    source is the history row of the move). Returns how many were raised."""
    raised = 0
    for change in rescored:
        if not change.entered_red:
            continue
        await raise_alert(
            services,
            kind="health_red",
            customer_id=change.customer_id,
            title=f"Customer {change.customer_id}'s health turned red ({change.score}/100)",
            detail="; ".join(_factor_line(factor) for factor in change.factors)
            or "no single factor stands out",
            source_ref=f"health:{change.customer_id}:{change.history_id}",
        )
        raised += 1
    return raised


async def get_health(db: Database, scorer: Scorer, customer_id: int) -> HealthScore | Computed:
    """The stored score, or one computed now (not stored) for a customer not scored yet."""
    async with db.sessions() as session:
        stored = await session.get(HealthScore, customer_id)
        if stored is not None:
            return stored
        if await session.get(Customer, customer_id) is None:
            raise NotFound(f"customer {customer_id} not found")
        now = utcnow()
        ((_, score, band, factors),) = await _score(session, scorer, [customer_id], now, None)
        return Computed(customer_id, score, band, factors, now)


async def history(db: Database, customer_id: int, query: HealthHistoryQuery) -> Page[HealthScoreHistory]:
    async with db.sessions() as session:
        if await session.get(Customer, customer_id) is None:
            raise NotFound(f"customer {customer_id} not found")
    statement = select(HealthScoreHistory).where(HealthScoreHistory.customer_id == customer_id)
    newest_first = (HealthScoreHistory.computed_at.desc(), HealthScoreHistory.id.desc())
    return await fetch_page(db, statement, *newest_first, limit=query.limit, offset=query.offset)


async def list_scores(db: Database, query: HealthListQuery) -> Page[HealthScore]:
    statement = where_given(select(HealthScore), (HealthScore.band, query.band))
    lowest_first = (HealthScore.score.asc(), HealthScore.customer_id.asc())
    return await fetch_page(db, statement, *lowest_first, limit=query.limit, offset=query.offset)


async def every_customer_id(db: Database) -> list[int]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Customer.id).order_by(Customer.id)))
