"""Each customer's behaviour features, read from what support already stores: the input of the health score,
the churn model and the segments (docs/HEALTH_SCORES.md, "Features").

One set-based query per source table (GROUP BY customer), for every customer at once or for a list of ids
(read in chunks), so rescoring every customer costs a handful of queries per chunk, not queries per customer.
Windows are measured back from `now`; every timestamp comparison is done by the database on bound UTC values,
so the same SQL runs on SQLite and PostgreSQL. Day counts are computed here from the MIN/MAX timestamps.

A customer without ratings gets the scale's neutral middle as CSAT and CES mean (3 of 1-5, 4 of 1-7) and a
count of 0: a model sees "no opinion" rather than a missing value, and the score gives it no points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.activities.models import PAYMENT, CustomerActivity
from cs_backend.churn.models import ChurnSignal
from cs_backend.conversations.models import Conversation
from cs_backend.customers.models import Customer
from cs_backend.db import utcnow
from cs_backend.feedback.models import Feedback
from cs_backend.onboarding.checklist import Checklist, load_checklist
from cs_backend.onboarding.models import CompletedStep
from cs_backend.outcomes.models import ConversationOutcome
from cs_backend.routing.models import HandoffRequest
from cs_backend.tickets.models import Ticket

# Ids per query when a list is given: far below SQLite's and asyncpg's bound-parameter limits.
CHUNK_SIZE = 500
NEUTRAL_CSAT = 3.0
NEUTRAL_CES = 4.0
OPEN_STATUSES = ("open", "pending")
DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class CustomerFeatures:
    customer_id: int
    # Share of the onboarding checklist's steps done, 0-1.
    onboarding_progress: float
    # Days since the latest of: a product activity, a conversation message, an onboarding step, joining.
    days_since_last_activity: float
    # Tickets open or pending now.
    tickets_open: int
    # Tickets opened in the last 90 days.
    tickets_90d: int
    # Age in days of the oldest open or pending ticket (0 without one).
    oldest_open_ticket_days: float
    # Mean CSAT (1-5) of the last 90 days; NEUTRAL_CSAT without ratings.
    csat_mean_90d: float
    csat_responses_90d: int
    # Mean CSAT of the last 30 days minus that of the 60 before (0 unless both periods have ratings).
    csat_trend: float
    # Mean CES (1-7, higher is easier) of the last 90 days; NEUTRAL_CES without ratings.
    ces_mean_90d: float
    ces_responses_90d: int
    # Handoffs to a person requested in the last 90 days.
    handoffs_90d: int
    # Conversation sessions of the last 30 days after the first one (0 or 1 session: 0).
    repeat_contacts_30d: int
    # Conversation sessions of the last 30 days that ended abandoned.
    abandoned_30d: int
    # Cancel, downgrade or negative-feedback signals of the last 90 days.
    churn_signals_90d: int
    # Payments of the last 30 days, in currency units (amounts of every currency added as they are).
    monthly_revenue: float
    # Every payment ever, in currency units: the customer's value so far.
    lifetime_revenue: float
    # Product activity events of the last 30 days.
    activities_30d: int
    # Days since the customer was first known.
    tenure_days: float

    def as_dict(self) -> dict[str, float]:
        """The features by name (FEATURE_NAMES order), without the customer id."""
        return {name: float(getattr(self, name)) for name in FEATURE_NAMES}


FEATURE_NAMES: tuple[str, ...] = tuple(
    field.name for field in dataclasses.fields(CustomerFeatures) if field.name != "customer_id"
)


@dataclass
class _Row:
    """One customer's features while the queries fill them in."""

    created_at: datetime
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    latest: datetime | None = None

    def saw(self, moment: datetime | None) -> None:
        if moment is None:
            return
        moment = _aware(moment)
        if self.latest is None or moment > self.latest:
            self.latest = moment


async def customer_features(
    session: AsyncSession,
    customer_ids: Sequence[int] | None,
    *,
    now: datetime | None = None,
    checklist: Checklist | None = None,
) -> list[CustomerFeatures]:
    """The features of these customers (every customer when None), in customer id order; ids of customers
    that do not exist are left out. `checklist` defaults to the bundled onboarding checklist."""
    now = now or utcnow()
    checklist = checklist or load_checklist()
    if customer_ids is None:
        rows = await _features_of(session, None, now, checklist)
    else:
        rows = {}
        wanted = sorted(set(customer_ids))
        for start in range(0, len(wanted), CHUNK_SIZE):
            rows.update(await _features_of(session, wanted[start : start + CHUNK_SIZE], now, checklist))
    return [_finish(customer_id, row, now) for customer_id, row in sorted(rows.items())]


async def _features_of(
    session: AsyncSession, ids: list[int] | None, now: datetime, checklist: Checklist
) -> dict[int, _Row]:
    rows: dict[int, _Row] = {}
    customers = select(Customer.id, Customer.created_at)
    for customer_id, created_at in await _rows(session, customers, Customer.id, ids):
        rows[customer_id] = _Row(created_at)
    if not rows:
        return rows
    for query in (
        _onboarding,
        _tickets,
        _feedback,
        _handoffs,
        _sessions,
        _churn,
        _activities,
        _conversations,
    ):
        await query(session, rows, ids, now, checklist)
    return rows


async def _rows(
    session: AsyncSession, statement: Any, customer_column: Any, ids: list[int] | None
) -> Iterable[Any]:
    if ids is not None:
        statement = statement.where(customer_column.in_(ids))
    return (await session.execute(statement)).all()


def _since(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def _count_if(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _mean_if(value: Any, condition: Any) -> Any:
    return func.avg(case((condition, value), else_=None))


async def _onboarding(
    session: AsyncSession, rows: dict[int, _Row], ids: list[int] | None, now: datetime, checklist: Checklist
) -> None:
    # Steps that left the checklist no longer count (as in onboarding's own progress).
    statement = (
        select(CompletedStep.customer_id, func.count(), func.max(CompletedStep.completed_at))
        .where(CompletedStep.step_key.in_(checklist.keys))
        .group_by(CompletedStep.customer_id)
    )
    total = max(len(checklist), 1)
    for customer_id, done, latest in await _rows(session, statement, CompletedStep.customer_id, ids):
        rows[customer_id].values["onboarding_progress"] = min(done / total, 1.0)
        rows[customer_id].saw(latest)


async def _tickets(
    session: AsyncSession, rows: dict[int, _Row], ids: list[int] | None, now: datetime, _: Checklist
) -> None:
    is_open = Ticket.status.in_(OPEN_STATUSES)
    statement = select(
        Ticket.customer_id,
        _count_if(is_open),
        _count_if(Ticket.created_at >= _since(now, 90)),
        func.min(case((is_open, Ticket.created_at), else_=None)),
    ).group_by(Ticket.customer_id)
    for customer_id, open_count, recent, oldest_open in await _rows(
        session, statement, Ticket.customer_id, ids
    ):
        values = rows[customer_id].values
        values["tickets_open"] = int(open_count or 0)
        values["tickets_90d"] = int(recent or 0)
        values["oldest_open_ticket_days"] = _days(now, oldest_open) if oldest_open is not None else 0.0


async def _feedback(
    session: AsyncSession, rows: dict[int, _Row], ids: list[int] | None, now: datetime, _: Checklist
) -> None:
    # A rating belongs to the customer of its ticket, else of its conversation.
    customer = func.coalesce(Ticket.customer_id, Conversation.customer_id).label("customer_id")
    csat = Feedback.kind == "csat"
    ces = Feedback.kind == "ces"
    recent = Feedback.created_at >= _since(now, 30)
    statement = (
        select(
            customer,
            _mean_if(Feedback.score, csat),
            _count_if(csat),
            _mean_if(Feedback.score, and_(csat, recent)),
            _mean_if(Feedback.score, and_(csat, ~recent)),
            _mean_if(Feedback.score, ces),
            _count_if(ces),
        )
        .select_from(Feedback)
        .outerjoin(Ticket, Ticket.id == Feedback.ticket_id)
        .outerjoin(Conversation, Conversation.id == Feedback.conversation_id)
        .where(Feedback.created_at >= _since(now, 90))
        .group_by(customer)
    )
    if ids is not None:
        statement = statement.where(or_(Ticket.customer_id.in_(ids), Conversation.customer_id.in_(ids)))
    for customer_id, csat_mean, csat_count, last_30, before, ces_mean, ces_count in (
        await session.execute(statement)
    ).all():
        if customer_id not in rows:  # a rating of a ticket of someone else in a listed conversation
            continue
        values = rows[customer_id].values
        values["csat_mean_90d"] = float(csat_mean) if csat_mean is not None else NEUTRAL_CSAT
        values["csat_responses_90d"] = int(csat_count or 0)
        values["csat_trend"] = float(last_30) - float(before) if None not in (last_30, before) else 0.0
        values["ces_mean_90d"] = float(ces_mean) if ces_mean is not None else NEUTRAL_CES
        values["ces_responses_90d"] = int(ces_count or 0)


async def _handoffs(
    session: AsyncSession, rows: dict[int, _Row], ids: list[int] | None, now: datetime, _: Checklist
) -> None:
    statement = (
        select(HandoffRequest.customer_id, func.count())
        .where(HandoffRequest.queued_at >= _since(now, 90))
        .group_by(HandoffRequest.customer_id)
    )
    for customer_id, count in await _rows(session, statement, HandoffRequest.customer_id, ids):
        if customer_id is not None:
            rows[customer_id].values["handoffs_90d"] = int(count)


async def _sessions(
    session: AsyncSession, rows: dict[int, _Row], ids: list[int] | None, now: datetime, _: Checklist
) -> None:
    # Outcomes name the Rasa conversation (sender id and channel); the conversation names the customer.
    statement = (
        select(
            Conversation.customer_id,
            func.count(),
            _count_if(ConversationOutcome.outcome == "abandoned"),
        )
        .select_from(ConversationOutcome)
        .join(
            Conversation,
            and_(
                Conversation.sender_id == ConversationOutcome.sender_id,
                Conversation.channel == ConversationOutcome.channel,
            ),
        )
        .where(ConversationOutcome.ended_at >= _since(now, 30), Conversation.customer_id.is_not(None))
        .group_by(Conversation.customer_id)
    )
    for customer_id, count, abandoned in await _rows(session, statement, Conversation.customer_id, ids):
        values = rows[customer_id].values
        values["repeat_contacts_30d"] = max(int(count) - 1, 0)
        values["abandoned_30d"] = int(abandoned or 0)


async def _churn(
    session: AsyncSession, rows: dict[int, _Row], ids: list[int] | None, now: datetime, _: Checklist
) -> None:
    statement = (
        select(ChurnSignal.customer_id, func.count())
        .where(ChurnSignal.created_at >= _since(now, 90))
        .group_by(ChurnSignal.customer_id)
    )
    for customer_id, count in await _rows(session, statement, ChurnSignal.customer_id, ids):
        rows[customer_id].values["churn_signals_90d"] = int(count)


async def _activities(
    session: AsyncSession, rows: dict[int, _Row], ids: list[int] | None, now: datetime, _: Checklist
) -> None:
    payment = CustomerActivity.kind == PAYMENT
    amount = func.coalesce(CustomerActivity.amount_cents, literal(0))
    last_30 = CustomerActivity.occurred_at >= _since(now, 30)
    statement = select(
        CustomerActivity.customer_id,
        func.max(CustomerActivity.occurred_at),
        func.sum(case((and_(payment, last_30), amount), else_=0)),
        func.sum(case((payment, amount), else_=0)),
        _count_if(last_30),
    ).group_by(CustomerActivity.customer_id)
    for customer_id, latest, month_cents, lifetime_cents, recent in await _rows(
        session, statement, CustomerActivity.customer_id, ids
    ):
        row = rows[customer_id]
        row.saw(latest)
        row.values["monthly_revenue"] = int(month_cents or 0) / 100
        row.values["lifetime_revenue"] = int(lifetime_cents or 0) / 100
        row.values["activities_30d"] = int(recent or 0)


async def _conversations(
    session: AsyncSession, rows: dict[int, _Row], ids: list[int] | None, now: datetime, _: Checklist
) -> None:
    statement = (
        select(Conversation.customer_id, func.max(Conversation.last_seen_at))
        .where(Conversation.customer_id.is_not(None))
        .group_by(Conversation.customer_id)
    )
    for customer_id, latest in await _rows(session, statement, Conversation.customer_id, ids):
        rows[customer_id].saw(latest)


def _days(now: datetime, moment: datetime) -> float:
    return max((now - _aware(moment)).total_seconds() / DAY_SECONDS, 0.0)


def _aware(moment: datetime | str) -> datetime:
    # MIN/MAX keep the column's type, so they come back as aware UTC datetimes; this also accepts what SQLite
    # would give for an expression that lost the type (its stored text, naive UTC).
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


_DEFAULTS: dict[str, Any] = {
    "onboarding_progress": 0.0,
    "tickets_open": 0,
    "tickets_90d": 0,
    "oldest_open_ticket_days": 0.0,
    "csat_mean_90d": NEUTRAL_CSAT,
    "csat_responses_90d": 0,
    "csat_trend": 0.0,
    "ces_mean_90d": NEUTRAL_CES,
    "ces_responses_90d": 0,
    "handoffs_90d": 0,
    "repeat_contacts_30d": 0,
    "abandoned_30d": 0,
    "churn_signals_90d": 0,
    "monthly_revenue": 0.0,
    "lifetime_revenue": 0.0,
    "activities_30d": 0,
}


def _finish(customer_id: int, row: _Row, now: datetime) -> CustomerFeatures:
    created_at = _aware(row.created_at)
    row.saw(created_at)
    assert row.latest is not None
    values = {**_DEFAULTS, **row.values}
    return CustomerFeatures(
        customer_id=customer_id,
        days_since_last_activity=_days(now, row.latest),
        tenure_days=_days(now, created_at),
        **values,
    )


def chunks(ids: Sequence[int], size: int = CHUNK_SIZE) -> Iterator[Sequence[int]]:
    """`ids` in slices of at most `size` (what a batch rescore reads and writes at once)."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
