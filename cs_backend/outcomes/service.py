"""Reading decided outcomes: the filtered page and the summary."""

from __future__ import annotations

from typing import Any, get_args

from sqlalchemy import func, select

from cs_backend.db import Database
from cs_backend.outcomes.models import ConversationOutcome, Outcome
from cs_backend.outcomes.schemas import OutcomeQuery
from cs_backend.paging import Page, fetch_page, where_given


async def list_outcomes(db: Database, query: OutcomeQuery) -> Page[ConversationOutcome]:
    statement = where_given(
        select(ConversationOutcome),
        (ConversationOutcome.outcome, query.outcome),
        (ConversationOutcome.channel, query.channel),
    )
    newest_first = (ConversationOutcome.ended_at.desc(), ConversationOutcome.id.desc())
    return await fetch_page(db, statement, *newest_first, limit=query.limit, offset=query.offset)


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
