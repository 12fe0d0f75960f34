"""Retention and customer lifetime value from the product's activity events (customer_activities, issue 13
contract 3): who was active in a span of days, and what paying customers have paid (docs/METRICS.md)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.activities.models import PAYMENT, CustomerActivity
from cs_backend.analytics.days import as_date, midnight, utc_day
from cs_backend.analytics.formulas import ratio


@dataclass(frozen=True)
class Span:
    """Whole UTC days [first, end): a period or the window; `before` is the span it is compared with (the
    previous period, or as many days right before the window)."""

    first: date
    end: date
    before: date


@dataclass(frozen=True)
class CustomerValue:
    retention_rate: float | None
    previously_active_customers: int
    retained_customers: int
    customer_lifetime_value: float | None
    paying_customers: int
    currency: str | None


@dataclass(frozen=True)
class PaymentHistory:
    """Cumulative payments of one currency by day: what had been paid, and by how many customers, before a
    given day."""

    days: list[date]
    cents_so_far: list[int]
    first_payment_days: list[date]

    def value_before(self, end: date) -> tuple[float | None, int]:
        paid = self.cents_so_far[bisect_left(self.days, end) - 1] if self.days and self.days[0] < end else 0
        paying = bisect_left(self.first_payment_days, end)
        return (paid / 100 / paying if paying else None), paying


async def customer_values(
    session: AsyncSession, spans: Sequence[Span], currency: str | None
) -> list[CustomerValue]:
    """Retention and lifetime value of each span."""
    if not spans:
        return []
    earliest = min(span.before for span in spans)
    latest = max(span.end for span in spans)
    active = await _active_by_day(session, earliest, latest)
    currency = currency or await _main_currency(session, latest)
    history = await _payment_history(session, latest, currency) if currency else None
    values = []
    for span in spans:
        before = _active_in(active, span.before, span.first)
        retained = before & _active_in(active, span.first, span.end)
        lifetime_value, paying = history.value_before(span.end) if history else (None, 0)
        values.append(
            CustomerValue(
                retention_rate=ratio(len(retained), len(before)),
                previously_active_customers=len(before),
                retained_customers=len(retained),
                customer_lifetime_value=None if lifetime_value is None else round(lifetime_value, 2),
                paying_customers=paying,
                currency=currency,
            )
        )
    return values


def _active_in(active: dict[date, set[int]], first: date, end: date) -> set[int]:
    customers: set[int] = set()
    for day, ids in active.items():
        if first <= day < end:
            customers |= ids
    return customers


async def _active_by_day(session: AsyncSession, first: date, end: date) -> dict[date, set[int]]:
    """The customers with any activity event, by UTC day (the database keeps one row per customer and day)."""
    day = utc_day(session, CustomerActivity.occurred_at)
    statement = (
        select(day, CustomerActivity.customer_id)
        .where(CustomerActivity.occurred_at >= midnight(first), CustomerActivity.occurred_at < midnight(end))
        .group_by(day, CustomerActivity.customer_id)
    )
    active: dict[date, set[int]] = {}
    for value, customer_id in (await session.execute(statement)).all():
        active.setdefault(as_date(value), set()).add(customer_id)
    return active


def _payments_before(end: date) -> ColumnElement[bool]:
    return and_(
        CustomerActivity.kind == PAYMENT,
        CustomerActivity.amount_cents.is_not(None),
        CustomerActivity.occurred_at < midnight(end),
    )


async def _main_currency(session: AsyncSession, end: date) -> str | None:
    """The currency of most payments before `end` (ties: alphabetical), when none is asked for."""
    count = func.count()
    statement = (
        select(CustomerActivity.currency)
        .where(_payments_before(end))
        .group_by(CustomerActivity.currency)
        .order_by(count.desc(), CustomerActivity.currency)
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def _payment_history(session: AsyncSession, end: date, currency: str) -> PaymentHistory:
    day = utc_day(session, CustomerActivity.occurred_at)
    paid = (
        select(day, func.sum(CustomerActivity.amount_cents))
        .where(_payments_before(end), CustomerActivity.currency == currency)
        .group_by(day)
    )
    per_day = sorted(
        (as_date(value), int(cents or 0)) for value, cents in (await session.execute(paid)).all()
    )
    first_payments = (
        select(func.min(CustomerActivity.occurred_at))
        .where(_payments_before(end), CustomerActivity.currency == currency)
        .group_by(CustomerActivity.customer_id)
    )
    firsts = sorted(moment.date() for moment in (await session.execute(first_payments)).scalars())
    return PaymentHistory(
        days=[value for value, _ in per_day],
        cents_so_far=list(accumulate(cents for _, cents in per_day)),
        first_payment_days=firsts,
    )
