"""The outcomes consumer: Rasa events in, decided outcomes out (outcomes/jobs.py runs its cycles).

Design (the simplest that survives restarts exactly): the classifier's state of each conversation with an
open session is one JSON row in `outcome_sessions` (a few hundred bytes, whatever the session's length). A
batch of events is applied in ONE transaction of cs_backend's database that loads the states of the batch's
conversations, applies the events in order, writes the states back, inserts the outcomes the events
decided and advances the source's cursor (SQL broker). Either all of that is committed or none of it, so a
crash or restart at any point resumes from a state that matches the stored cursor: no event lost, none
counted twice. RabbitMQ messages are acknowledged only after the commit; the digest of every applied message
is stored in the same transaction (outcome_processed_events, kept PROCESSED_EVENT_DAYS), so a message
redelivered after a crash between commit and ack, however many were in flight and whether or not its session
is still open, is recognised and skipped.
Outcome rows are unique on (sender_id, session_started_at) and inserted with ON CONFLICT DO NOTHING, so
deciding a session again can never duplicate it.

Each cycle reads batches until the source is drained, then decides the sessions idle for
OUTCOME_ABANDON_AFTER_MINUTES against the (injectable) clock; it does not do that while the source cannot be
read, since unread events could still continue those sessions. A malformed event (not JSON, not a Rasa
event, unstorable values) is logged and skipped; it never stops the stream.
The SQL source also awaits ids its cursor passed before their transactions committed, and recognises a
recreated table (outcomes/sources.py). Run one consumer per cs_backend database (the SQL cursor makes a second
one harmless but useless; a second RabbitMQ consumer is refused by the queue).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Insert, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.db import Database, utcnow
from cs_backend.jobs import Clock
from cs_backend.outcomes.classifier import BadEvent, ConversationState, RasaEvent, SessionOutcome, parse_event
from cs_backend.outcomes.models import ConversationOutcome, OutcomeSession, ProcessedOutcomeEvent
from cs_backend.outcomes.sources import Batch, RasaEventSource, RawEvent

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# How long the digest of an applied RabbitMQ message is kept: far longer than a message stays unacknowledged
# (it is redelivered as soon as its channel closes, and read before anything newer).
PROCESSED_EVENT_DAYS = 14
KEY_LOOKUP_CHUNK = 1000
FORGET_EVERY = timedelta(hours=1)


@dataclass
class CycleReport:
    events: int = 0
    skipped: int = 0
    decided: int = 0


@dataclass(frozen=True)
class ObservedEvent:
    """An applied event for the observers: its conversation and Rasa's JSON of it, as published."""

    sender_id: str
    data: Mapping[str, Any]


class EventObserver(Protocol):
    """Something else that learns from Rasa's events (nlu_review/service.py): given each batch's applied
    events, in order, inside the consumer's transaction, so that it too sees every event exactly once."""

    async def observe(
        self, session: AsyncSession, events: Sequence[ObservedEvent], now: datetime
    ) -> None: ...


@dataclass
class ConsumerLag:
    """How far behind Rasa the consumer is, as of its last read (GET /metrics shows it)."""

    # Events the source still holds after the last batch read (SQL: ids past it; RabbitMQ: ready messages).
    events: int = 0
    # Age of the oldest event of the last batch applied when it was applied; 0 once the source is drained.
    seconds: float = 0.0
    # The last read reached the source.
    reachable: bool = True


class OutcomeConsumer:
    def __init__(
        self,
        database: Database,
        source: RasaEventSource,
        abandon_after: timedelta,
        clock: Clock = utcnow,
        batch_size: int = BATCH_SIZE,
        observers: Sequence[EventObserver] = (),
    ) -> None:
        self.observers = tuple(observers)
        self.database = database
        self.source = source
        self.abandon_after = abandon_after
        self.clock = clock
        self.batch_size = batch_size
        self.lag = ConsumerLag()
        self._forgotten_at: datetime | None = None

    async def run_once(self) -> CycleReport:
        """Read until the source is drained, then close the sessions idle past the threshold."""
        report = CycleReport()
        while True:
            batch = await self.source.fetch(self.batch_size)
            self.lag.reachable = batch.reachable
            if batch.reachable:
                self.lag.events = batch.backlog
            if batch.events or batch.moves_cursor:
                try:
                    await self._apply_batch(batch, report)
                except BaseException:
                    # RabbitMQ redelivers unacknowledged messages only once their channel is gone: close it,
                    # so that the next cycle reads them again, in order, before anything newer.
                    await self.source.close()
                    raise
            if not batch.reachable:
                return report
            if batch.drained:
                self.lag.seconds = 0.0
                break
        report.decided += await self.close_idle_sessions()
        await self.forget_processed_events()
        return report

    def _parse(self, raw: RawEvent) -> tuple[RasaEvent, Mapping[str, Any]] | None:
        try:
            body = raw.body.decode("utf-8") if isinstance(raw.body, bytes) else raw.body
            data = json.loads(body)
            return parse_event(data, raw.sender_hint), data
        except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, BadEvent
            reason = error if isinstance(error, BadEvent) else f"not JSON ({error.__class__.__name__})"
            log.warning("outcomes: skipping %s of %s: %s", raw.label, self.source.description, reason)
            return None

    async def _apply_batch(self, batch: Batch, report: CycleReport) -> None:
        parsed = [(raw, self._parse(raw)) for raw in batch.events]
        events = [(raw, found[0]) for raw, found in parsed if found is not None]
        data_of = {id(raw): found[1] for raw, found in parsed if found is not None}
        skipped = len(parsed) - len(events)
        observed: list[ObservedEvent] = []
        senders = sorted({event.sender_id for _, event in events})
        if events:
            oldest = min(event.timestamp for _, event in events)
            self.lag.seconds = max(0.0, self.clock().timestamp() - oldest)
        decided: list[SessionOutcome] = []
        new_keys: set[str] = set()
        fed: set[str] = set()
        async with self.database.sessions() as session:
            rows: dict[str, OutcomeSession] = {}
            if senders:
                found = await session.scalars(
                    select(OutcomeSession).where(OutcomeSession.sender_id.in_(senders))
                )
                rows = {row.sender_id: row for row in found}
            states = {sender: _load_state(sender, rows.get(sender)) for sender in senders}
            applied = await _already_applied(
                session, [raw.dedupe_key for raw, _ in events if raw.redelivered and raw.dedupe_key]
            )
            for raw, event in events:
                state = states[event.sender_id]
                if raw.dedupe_key is not None:
                    if raw.redelivered and raw.dedupe_key in applied:
                        log.info("outcomes: %s was applied before; skipped", raw.label)
                        skipped += 1
                        continue
                    new_keys.add(raw.dedupe_key)
                fed.add(event.sender_id)
                observed.append(ObservedEvent(event.sender_id, data_of[id(raw)]))
                try:
                    decided.extend(state.feed(event, self.abandon_after))
                except Exception:  # a classifier bug must not block the stream either
                    log.exception("outcomes: skipping %s of %s", raw.label, self.source.description)
                    skipped += 1
            now = self.clock()
            for sender in sorted(fed):  # a conversation whose events were all skipped keeps its row as it was
                _store_state(session, rows.get(sender), states[sender], now)
            await insert_outcomes(session, decided, now)
            for observer in self.observers:
                await observer.observe(session, observed, now)
            await remember_processed(session, sorted(new_keys), now)
            await self.source.commit(session, batch)
            await session.commit()
        await self.source.acknowledge(batch)
        report.events += len(batch.events)
        report.skipped += skipped
        report.decided += len(decided)

    async def forget_processed_events(self) -> None:
        """Forget the digests older than PROCESSED_EVENT_DAYS (after a drained read: no redelivery of
        theirs is still waiting in front of newer events)."""
        now = self.clock()
        if self._forgotten_at is not None and now - self._forgotten_at < FORGET_EVERY:
            return  # a write each cycle would only compete with the backend's own writes (SQLite)
        self._forgotten_at = now
        cutoff = now - timedelta(days=PROCESSED_EVENT_DAYS)
        async with self.database.sessions() as session:
            await session.execute(
                delete(ProcessedOutcomeEvent).where(ProcessedOutcomeEvent.processed_at < cutoff)
            )
            await session.commit()

    async def close_idle_sessions(self) -> int:
        """Decide the sessions without a customer message for `abandon_after` before the clock's now."""
        now = self.clock()
        cutoff = now - self.abandon_after
        total = 0
        while True:
            async with self.database.sessions() as session:
                rows = list(
                    await session.scalars(
                        select(OutcomeSession)
                        .where(OutcomeSession.idle_since <= cutoff)
                        .order_by(OutcomeSession.idle_since, OutcomeSession.sender_id)
                        .limit(self.batch_size)
                    )
                )
                decided: list[SessionOutcome] = []
                closed = 0
                for row in rows:
                    state = _load_state(row.sender_id, row)
                    decided.extend(state.close_if_idle(now, self.abandon_after))
                    if state.session is None:
                        await session.delete(row)
                        closed += 1
                    else:  # not idle by the classifier's measure after all: keep it open
                        _store_state(session, row, state, now)
                await insert_outcomes(session, decided, now)
                await session.commit()
            total += len(decided)
            if len(rows) < self.batch_size or not closed:
                return total


async def _already_applied(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    unique = sorted(set(keys))
    for start in range(0, len(unique), KEY_LOOKUP_CHUNK):
        chunk = unique[start : start + KEY_LOOKUP_CHUNK]
        found.update(
            await session.scalars(
                select(ProcessedOutcomeEvent.event_key).where(ProcessedOutcomeEvent.event_key.in_(chunk))
            )
        )
    return found


def _load_state(sender_id: str, row: OutcomeSession | None) -> ConversationState:
    if row is None:
        return ConversationState(sender_id)
    try:
        return ConversationState.from_json(row.state)
    except (KeyError, TypeError, ValueError):
        log.exception("outcomes: unreadable state of conversation %r; starting it afresh", sender_id)
        return ConversationState(sender_id)


def _store_state(
    session: AsyncSession, row: OutcomeSession | None, state: ConversationState, now: datetime
) -> None:
    # A conversation without an open session (only Rasa's action_session_start seen so far) gets `now`,
    # so the idle sweep removes the row if nothing follows.
    idle_since = state.idle_since or now
    if row is None:
        session.add(
            OutcomeSession(
                sender_id=state.sender_id, state=state.to_json(), idle_since=idle_since, updated_at=now
            )
        )
    else:
        row.state = state.to_json()
        row.idle_since = idle_since
        row.updated_at = now


async def remember_processed(session: AsyncSession, keys: Sequence[str], now: datetime) -> None:
    """Store applied messages' digests (an identical message applied before keeps its first row)."""
    if not keys:
        return
    values = [{"event_key": key, "processed_at": now} for key in keys]
    await session.execute(_insert_ignoring_duplicates(session, ProcessedOutcomeEvent, ["event_key"]), values)


def _insert_ignoring_duplicates(session: AsyncSession, model: type[Any], unique: list[str]) -> Insert:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing(index_elements=unique)
    return sqlite.insert(model).on_conflict_do_nothing(index_elements=unique)


async def insert_outcomes(session: AsyncSession, outcomes: Sequence[SessionOutcome], now: datetime) -> None:
    """Insert decided sessions; one decided before (same sender and start) is left as it is."""
    if not outcomes:
        return
    values = [
        {
            "sender_id": o.sender_id,
            "channel": o.channel,
            "session_started_at": o.session_started_at,
            "ended_at": o.ended_at,
            "outcome": o.outcome,
            "intents": list(o.intents),
            "decided_at": now,
        }
        for o in outcomes
    ]
    statement = _insert_ignoring_duplicates(session, ConversationOutcome, ["sender_id", "session_started_at"])
    await session.execute(statement, values)
