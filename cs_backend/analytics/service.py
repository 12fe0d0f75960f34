"""The analytics queries: read-only, one bounded query per source table, grouped in SQL where the database
can do it the same way everywhere (docs/METRICS.md says what each metric reads)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.accounts.models import Account
from cs_backend.analytics.customer_value import CustomerValue, Span, customer_values
from cs_backend.analytics.days import as_date, midnight, utc_day
from cs_backend.analytics.formulas import (
    CES_SCORES,
    CSAT_SCORES,
    REPEAT_CONTACT_WINDOW,
    SessionFacts,
    Tally,
    group_starts,
    next_period_start,
    period_start,
    periods_between,
    settled_first_time,
)
from cs_backend.analytics.schemas import (
    AnalyticsWindow,
    Distribution,
    DistributionQuery,
    Metrics,
    MetricsGroup,
    Period,
    Summary,
    SummaryQuery,
)
from cs_backend.db import Database
from cs_backend.feedback.models import Feedback
from cs_backend.outcomes.models import ConversationOutcome
from cs_backend.routing.models import HandoffRequest

NO_KEY_LABEL = "(none)"


def window_bounds(window: AnalyticsWindow) -> tuple[datetime, datetime]:
    """[start, end) in UTC: from the first day's midnight to the midnight after the last day."""
    return midnight(window.first_day), midnight(window.last_day + timedelta(days=1))


class Groups:
    """The tallies of one summary, keyed by the group's key (None: no intent, no agent)."""

    def __init__(self, query: SummaryQuery) -> None:
        self.query = query
        self.tallies: dict[Hashable, Tally] = {}
        if query.by == "period":
            for start in periods_between(query.first_day, query.last_day, query.period):
                self.tallies[start] = Tally()

    def tally(self, key: Hashable) -> Tally:
        tally = self.tallies.get(key)
        if tally is None:
            tally = self.tallies[key] = Tally()
            if self.query.by == "agent":
                tally.sessions = None  # a bot's session has no agent
            if self.query.by == "intent":
                tally.handoffs = tally.first_responses = tally.resolutions = None  # handoffs carry no intent
        return tally

    def period_key(self, moment: datetime | date) -> date:
        day = moment.date() if isinstance(moment, datetime) else moment
        return period_start(day, self.query.period)


async def summary(db: Database, query: SummaryQuery) -> Summary:
    groups = Groups(query)
    overall = Tally()
    async with db.sessions() as session:
        await _add_ratings(session, query, groups, overall)
        await _add_sessions(session, query, groups, overall)
        await _add_handoffs(session, query, groups, overall)
        labels = await _agent_names(session, groups) if query.by == "agent" else {}
        window_end = query.last_day + timedelta(days=1)
        spans = [Span(query.first_day, window_end, query.first_day - (window_end - query.first_day))]
        if query.by == "period":
            spans += [_period_span(key, query.period) for key in groups.tallies if isinstance(key, date)]
        values = await customer_values(session, spans, query.currency)
    ordered = list(groups.tallies.items())
    if query.by != "period":
        ordered.sort(key=lambda item: (-item[1].size(), str(item[0])))
    period_values = dict(zip(groups.tallies, values[1:], strict=False)) if query.by == "period" else {}
    return Summary(
        from_=query.first_day,
        to=query.last_day,
        by=query.by,
        period=query.period,
        overall=_with_value(overall.metrics(), values[0]),
        groups=[_group(key, tally, labels, period_values.get(key)) for key, tally in ordered],
    )


def _period_span(start: date, period: Period) -> Span:
    previous = period_start(start - timedelta(days=1), period)
    return Span(first=start, end=next_period_start(start, period), before=previous)


def _with_value(metrics: Metrics, value: CustomerValue | None) -> Metrics:
    if value is None:
        return metrics
    return metrics.model_copy(
        update={
            "retention_rate": value.retention_rate,
            "previously_active_customers": value.previously_active_customers,
            "customer_lifetime_value": value.customer_lifetime_value,
            "paying_customers": value.paying_customers,
            "currency": value.currency,
        }
    )


def _key_text(key: Hashable) -> str | None:
    if key is None:
        return None
    return key.isoformat() if isinstance(key, date) else str(key)


def _group(
    key: Hashable, tally: Tally, labels: dict[Hashable, str], value: CustomerValue | None
) -> MetricsGroup:
    text = _key_text(key)
    metrics = _with_value(tally.metrics(), value)
    return MetricsGroup(key=text, label=labels.get(key, text or NO_KEY_LABEL), metrics=metrics)


async def _add_ratings(session: AsyncSession, query: SummaryQuery, groups: Groups, overall: Tally) -> None:
    """CSAT and CES: counts per (group, kind, score), counted by the database."""
    start, end = window_bounds(query)
    key_column: Any = {
        "period": utc_day(session, Feedback.created_at),
        "intent": Feedback.intent,
        "channel": Feedback.channel,
        "agent": Feedback.agent_id,
    }[query.by]
    statement = (
        select(key_column, Feedback.kind, Feedback.score, func.count())
        .where(Feedback.created_at >= start, Feedback.created_at < end)
        .group_by(key_column, Feedback.kind, Feedback.score)
    )
    for key, kind, score, count in (await session.execute(statement)).all():
        group_key = groups.period_key(as_date(key)) if query.by == "period" else key
        groups.tally(group_key).add_rating(kind, score, count)
        overall.add_rating(kind, score, count)


async def _add_sessions(session: AsyncSession, query: SummaryQuery, groups: Groups, overall: Tally) -> None:
    """Containment, handoff rate and first-contact resolution from the decided sessions that ended in the
    window, with the sessions that started up to REPEAT_CONTACT_WINDOW after it (repeat contacts)."""
    start, end = window_bounds(query)
    decided = await session.execute(
        select(
            ConversationOutcome.sender_id,
            ConversationOutcome.session_started_at,
            ConversationOutcome.ended_at,
            ConversationOutcome.outcome,
            ConversationOutcome.channel,
            ConversationOutcome.intents,
        ).where(ConversationOutcome.ended_at >= start, ConversationOutcome.ended_at < end)
    )
    rows = decided.all()
    later = await session.execute(
        select(ConversationOutcome.sender_id, ConversationOutcome.session_started_at).where(
            ConversationOutcome.session_started_at > start,
            ConversationOutcome.session_started_at <= end + REPEAT_CONTACT_WINDOW,
        )
    )
    starts = group_starts(later.all())
    for sender_id, started_at, ended_at, outcome, channel, intents in rows:
        facts = SessionFacts(
            ended_at=ended_at,
            channel=channel,
            intents=tuple(intents or ()),
            outcome=outcome,
            resolved_first_time=settled_first_time(outcome, sender_id, started_at, ended_at, starts),
        )
        if overall.sessions is not None:
            overall.sessions.append(facts)
        keys: list[Hashable]
        if query.by == "period":
            keys = [groups.period_key(ended_at)]
        elif query.by == "channel":
            keys = [channel]
        elif query.by == "intent":
            # A session about several intents counts once in each of them; one about none, under no intent.
            keys = list(dict.fromkeys(facts.intents)) or [None]
        else:
            keys = []
        for key in keys:
            sessions = groups.tally(key).sessions
            if sessions is not None:
                sessions.append(facts)


async def _add_handoffs(session: AsyncSession, query: SummaryQuery, groups: Groups, overall: Tally) -> None:
    """Median first-response and resolution times of the handoffs queued in the window (medians are
    computed here, from the durations, the same way on every database)."""
    start, end = window_bounds(query)
    result = await session.execute(
        select(
            HandoffRequest.queued_at,
            HandoffRequest.first_response_at,
            HandoffRequest.resolved_at,
            HandoffRequest.channel,
            HandoffRequest.agent_id,
        ).where(HandoffRequest.queued_at >= start, HandoffRequest.queued_at < end)
    )
    key_of: Callable[[datetime, str, int | None], Hashable | None] = {
        "period": lambda queued, _channel, _agent: groups.period_key(queued),
        "channel": lambda _queued, channel, _agent: channel,
        "agent": lambda _queued, _channel, agent: agent,
        "intent": lambda *_: None,
    }[query.by]
    for queued_at, first_response_at, resolved_at, channel, agent_id in result.all():
        targets = [overall]
        if query.by != "intent":
            targets.append(groups.tally(key_of(queued_at, channel, agent_id)))
        for tally in targets:
            if tally.handoffs is None or tally.first_responses is None or tally.resolutions is None:
                continue
            tally.handoffs += 1
            if first_response_at is not None:
                tally.first_responses.append((first_response_at - queued_at).total_seconds())
            if resolved_at is not None:
                tally.resolutions.append((resolved_at - queued_at).total_seconds())


async def _agent_names(session: AsyncSession, groups: Groups) -> dict[Hashable, str]:
    ids = [key for key in groups.tallies if isinstance(key, int)]
    if not ids:
        return {}
    result = await session.execute(select(Account.id, Account.display_name).where(Account.id.in_(ids)))
    return {row[0]: row[1] for row in result.all()}


async def distribution(db: Database, query: DistributionQuery) -> Distribution:
    start, end = window_bounds(query)
    csat = {str(score): 0 for score in CSAT_SCORES}
    ces = {str(score): 0 for score in CES_SCORES}
    statement = (
        select(Feedback.kind, Feedback.score, func.count())
        .where(Feedback.created_at >= start, Feedback.created_at < end)
        .group_by(Feedback.kind, Feedback.score)
    )
    async with db.sessions() as session:
        for kind, score, count in (await session.execute(statement)).all():
            counts = csat if kind == "csat" else ces
            if str(score) in counts:
                counts[str(score)] = count
    return Distribution(from_=query.first_day, to=query.last_day, csat=csat, ces=ces)
