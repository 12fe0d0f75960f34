"""The learning loop's queries: the collector the outcomes consumer feeds (in its transaction), and the
messages an export reads."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.db import Database
from cs_backend.nlu_review.collector import Candidate, Watch
from cs_backend.nlu_review.models import TEXT_LENGTH, MisunderstoodMessage, ReviewWatch
from cs_backend.nlu_review.redaction import storable_review_text
from cs_backend.outcomes.classifier import to_datetime
from cs_backend.outcomes.consumer import ObservedEvent

log = logging.getLogger(__name__)

# A watch not fed for this long is forgotten: "right after" a misunderstanding or an answer never spans a day
# (Rasa starts a new session after an hour without a message), and a conversation that simply ended keeps
# nothing.
FORGET_WATCHES_AFTER = timedelta(days=1)


class NluReviewCollector:
    """An observer of the outcomes consumer (outcomes/consumer.py EventObserver): feeds each conversation's
    Watch and stores what it collects, in the consumer's transaction (so exactly once, like the outcomes)."""

    async def observe(self, session: AsyncSession, events: Sequence[ObservedEvent], now: datetime) -> None:
        if not events:
            return
        senders = sorted({event.sender_id for event in events})
        rows = {
            row.sender_id: row
            for row in await session.scalars(select(ReviewWatch).where(ReviewWatch.sender_id.in_(senders)))
        }
        watches = {sender: _load(sender, rows.get(sender)) for sender in senders}
        collected: list[Candidate] = []
        for event in events:
            try:
                collected.extend(watches[event.sender_id].feed(event.data))
            except Exception:  # a collector bug must not stop the outcomes: that event is not reviewed
                log.exception("nlu review: skipping an event of %r", event.sender_id)
        for sender, watch in watches.items():
            row = rows.get(sender)
            if watch.empty:
                if row is not None:
                    await session.delete(row)
            elif row is None:
                session.add(ReviewWatch(sender_id=sender, state=watch.to_json(), updated_at=now))
            else:
                row.state = watch.to_json()
                row.updated_at = now
        await insert_messages(session, collected, now)
        await session.execute(delete(ReviewWatch).where(ReviewWatch.updated_at < now - FORGET_WATCHES_AFTER))


def _load(sender_id: str, row: ReviewWatch | None) -> Watch:
    if row is None:
        return Watch(sender_id)
    try:
        return Watch.from_json(row.state)
    except (KeyError, TypeError, ValueError):
        log.exception("nlu review: unreadable watch of %r; starting it afresh", sender_id)
        return Watch(sender_id)


async def insert_messages(session: AsyncSession, candidates: Sequence[Candidate], now: datetime) -> None:
    """Store the collected messages (redacted); one already stored for the same reason is left as it is."""
    values = []
    for candidate in candidates:
        text = storable_review_text(candidate.said.text, TEXT_LENGTH)
        if text is None:
            continue
        values.append(
            {
                "sender_id": candidate.sender_id,
                "channel": candidate.said.channel,
                "message_key": candidate.said.key,
                "text": text,
                "predicted_intent": candidate.said.intent,
                "confidence": candidate.said.confidence,
                "reason": candidate.reason,
                "said_at": to_datetime(candidate.said.at),
                "collected_at": now,
            }
        )
    if not values:
        return
    unique = ["sender_id", "message_key", "reason"]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(MisunderstoodMessage).on_conflict_do_nothing(index_elements=unique), values)


async def collected_messages(database: Database, since: datetime | None = None) -> list[MisunderstoodMessage]:
    """The collected messages said at or after `since` (all without it), oldest first."""
    query = select(MisunderstoodMessage).order_by(MisunderstoodMessage.said_at, MisunderstoodMessage.id)
    if since is not None:
        query = query.where(MisunderstoodMessage.said_at >= since)
    async with database.sessions() as session:
        return list(await session.scalars(query))


async def purge_said_before(database: Database, cutoff: datetime) -> int:
    """Delete the collected messages said before `cutoff`: their text is part of a transcript, so the
    transcript retention (privacy/jobs.py) removes them with the rest. The number deleted."""
    async with database.sessions() as session:
        result = await session.execute(
            delete(MisunderstoodMessage).where(MisunderstoodMessage.said_at < cutoff)
        )
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
