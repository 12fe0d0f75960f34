"""Reading decided outcomes: the filtered page and the summary."""

from __future__ import annotations

from typing import Any, get_args

from sqlalchemy import Select, func, select

from cs_backend.db import Database
from cs_backend.outcomes.models import ConversationOutcome, Outcome
from cs_backend.outcomes.schemas import OutcomeQuery
from cs_backend.paging import Page, fetch_page


def _filtered(query: OutcomeQuery) -> Select[Any]:
    statement = select(ConversationOutcome)
    if query.outcome is not None:
        statement = statement.where(ConversationOutcome.outcome == query.outcome)
    if query.channel is not None:
        statement = statement.where(ConversationOutcome.channel == query.channel)
    return statement


async def list_outcomes(db: Database, query: OutcomeQuery) -> Page[ConversationOutcome]:
    return await fetch_page(
        db,
        _filtered(query),
        ConversationOutcome.ended_at.desc(),
        ConversationOutcome.id.desc(),
        limit=query.limit,
        offset=query.offset,
    )


async def summary(db: Database) -> dict[str, Any]:
    async with db.sessions() as session:
        counted = await session.execute(
            select(ConversationOutcome.outcome, func.count()).group_by(ConversationOutcome.outcome)
        )
        by_outcome = dict.fromkeys(get_args(Outcome), 0)
        for outcome, count in counted:
            by_outcome[outcome] = int(count)
    total = sum(by_outcome.values())
    return {
        "total": total,
        "by_outcome": by_outcome,
        "containment_rate": by_outcome["resolved_by_bot"] / total if total else None,
        "handoff_rate": by_outcome["escalated"] / total if total else None,
    }
