"""Onboarding progress: which steps a customer completed (read only), a conversation starting onboarding and
completing a step (both idempotent), and the customers whose onboarding stalled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.api.errors import InvalidRequest, NotFound
from cs_backend.conversations.models import Conversation
from cs_backend.customers.identity import (
    Identity,
    find_customer,
    identity_errors,
    resolve_customer,
    unknown_customer_in_body,
    unknown_customer_in_query,
)
from cs_backend.customers.models import Customer
from cs_backend.db import Database, run_transaction, utcnow
from cs_backend.onboarding.checklist import Checklist, Step
from cs_backend.onboarding.models import CompletedStep, OnboardingNudge
from cs_backend.onboarding.schemas import OnboardingStart, ProgressQuery, ProgressUpdate

# Customers per query of the candidates' progress, nudges and conversations (bounded IN lists).
_CHUNK = 500


@dataclass(frozen=True)
class StepProgress:
    key: str
    title: str
    done: bool
    completed_at: datetime | None
    source: str | None


@dataclass(frozen=True)
class Progress:
    # None: a conversation that has no customer yet (nothing done).
    customer_id: int | None
    steps: list[StepProgress]
    done_count: int
    total: int
    next_step: Step | None
    completed: bool


@dataclass(frozen=True)
class StalledCustomer:
    customer_id: int
    conversation_id: int
    sender_id: str
    channel: str
    next_step: str
    idle_hours: float
    last_activity: datetime


async def load_progress(session: AsyncSession, checklist: Checklist, customer_id: int | None) -> Progress:
    """The progress of `customer_id`; None (no customer yet) has done nothing."""
    done: dict[str, CompletedStep] = {}
    if customer_id is not None:
        rows = await session.scalars(select(CompletedStep).where(CompletedStep.customer_id == customer_id))
        done = {row.step_key: row for row in rows if row.step_key in checklist.by_key}
    steps = [
        StepProgress(
            key=step.key,
            title=step.title,
            done=step.key in done,
            completed_at=done[step.key].completed_at if step.key in done else None,
            source=done[step.key].source if step.key in done else None,
        )
        for step in checklist
    ]
    next_step = checklist.next_step(set(done))
    return Progress(
        customer_id=customer_id,
        steps=steps,
        done_count=len(done),
        total=len(checklist),
        next_step=next_step,
        completed=next_step is None,
    )


async def get_progress(db: Database, checklist: Checklist, query: ProgressQuery) -> Progress:
    """Progress of a customer, reading only: a conversation that is unknown or has no customer yet has done
    nothing (customer_id None), and neither it nor a customer is created (start_onboarding does that)."""
    identity = Identity(query.customer_id, query.sender_id, query.channel)
    errors = identity_errors(identity)
    if errors:
        raise InvalidRequest("invalid query parameters", errors)
    async with db.sessions() as session:
        customer_id = await find_customer(session, identity, unknown_customer=unknown_customer_in_query)
        return await load_progress(session, checklist, customer_id)


async def start_onboarding(db: Database, checklist: Checklist, data: OnboardingStart) -> Progress:
    """The conversation starts onboarding: it is created if new and refreshed (the customer is active in it),
    and gets an anonymous customer if it has none, so the nudge job can follow it up. Idempotent: a second
    start finds both and creates nothing. Returns the progress."""
    identity = Identity(None, data.sender_id, data.channel)

    async def work(session: AsyncSession) -> Progress:
        customer_id = await resolve_customer(
            session,
            identity,
            refresh_conversation=True,
            unknown_customer=unknown_customer_in_body,
        )
        return await load_progress(session, checklist, customer_id)

    return await run_transaction(db.sessions, work)


async def complete_step(db: Database, checklist: Checklist, data: ProgressUpdate) -> Progress:
    """Mark the step done (once: a step already done keeps its first completion) and return the progress.

    Everything is checked before the database is touched, so a bad request writes nothing.
    """
    identity = Identity(data.customer_id, data.sender_id, data.channel)
    errors = identity_errors(identity)
    unknown_step = f"unknown step {data.step!r}; steps are: {', '.join(checklist.keys)}"
    if errors:
        if data.step not in checklist.by_key:
            errors = {"step": unknown_step, **errors}
        raise InvalidRequest("invalid request body", errors)
    if data.step not in checklist.by_key:
        # A well-formed body naming a step the checklist does not have: not found, like an unknown id.
        raise NotFound(f"step {data.step!r} not found", {"step": unknown_step})

    async def work(session: AsyncSession) -> Progress:
        customer_id = await resolve_customer(
            session,
            identity,
            refresh_conversation=True,
            unknown_customer=unknown_customer_in_body,
        )
        existing = await session.scalar(
            select(CompletedStep.id).where(
                CompletedStep.customer_id == customer_id, CompletedStep.step_key == data.step
            )
        )
        if existing is None:
            # A concurrent completion of the same step fails this flush (unique customer_id, step_key);
            # the retry finds the winner's row and changes nothing.
            session.add(
                CompletedStep(
                    customer_id=customer_id, step_key=data.step, completed_at=utcnow(), source=data.source
                )
            )
            await session.flush()
        return await load_progress(session, checklist, customer_id)

    return await run_transaction(db.sessions, work)


async def _stalled_in_chunk(
    session: AsyncSession,
    checklist: Checklist,
    candidates: Sequence[tuple[int, datetime]],
    now: datetime,
    exclude_nudged: bool,
) -> list[StalledCustomer]:
    ids = [customer_id for customer_id, _ in candidates]
    done: dict[int, set[str]] = {customer_id: set() for customer_id in ids}
    for customer_id, key in await session.execute(
        select(CompletedStep.customer_id, CompletedStep.step_key).where(CompletedStep.customer_id.in_(ids))
    ):
        done[customer_id].add(key)
    nudged: dict[int, set[str]] = {customer_id: set() for customer_id in ids}
    if exclude_nudged:
        for customer_id, key in await session.execute(
            select(OnboardingNudge.customer_id, OnboardingNudge.step_key).where(
                OnboardingNudge.customer_id.in_(ids)
            )
        ):
            nudged[customer_id].add(key)
    latest: dict[int, Conversation] = {}
    for conversation in await session.scalars(
        select(Conversation)
        .where(Conversation.customer_id.in_(ids))
        .order_by(Conversation.last_seen_at.desc(), Conversation.id.desc())
    ):
        assert conversation.customer_id is not None
        latest.setdefault(conversation.customer_id, conversation)

    stalled = []
    for customer_id, last_activity in candidates:
        next_step = checklist.next_step(done[customer_id])
        nudged_on = latest.get(customer_id)
        if next_step is None or nudged_on is None or next_step.key in nudged[customer_id]:
            continue
        stalled.append(
            StalledCustomer(
                customer_id=customer_id,
                conversation_id=nudged_on.id,
                sender_id=nudged_on.sender_id,
                channel=nudged_on.channel,
                next_step=next_step.key,
                idle_hours=round((now - last_activity).total_seconds() / 3600, 2),
                last_activity=last_activity,
            )
        )
    return stalled


async def find_stalled(
    db: Database,
    checklist: Checklist,
    *,
    stalled_after: timedelta,
    now: datetime,
    exclude_nudged: bool = False,
    limit: int | None = None,
) -> list[StalledCustomer]:
    """Stalled customers at `now`, longest idle first, each with their most recently active conversation.

    A customer is stalled when their onboarding is not complete and their last onboarding activity (the
    latest completed step; without any, their first contact: when the customer was created) is older than
    `stalled_after`. Customers without a conversation cannot be nudged and are left out.
    With exclude_nudged (the nudge job), customers already nudged for their next step are left out; the SQL
    already skips those nudged since their last activity (their next step cannot have changed), so customers
    stalled for good are not re-read on every run.
    """
    keys = checklist.keys
    activity = (
        select(
            CompletedStep.customer_id.label("customer_id"),
            func.max(CompletedStep.completed_at).label("last_done"),
            func.sum(case((CompletedStep.step_key.in_(keys), 1), else_=0)).label("done"),
        )
        .group_by(CompletedStep.customer_id)
        .subquery()
    )
    last_activity = func.coalesce(activity.c.last_done, Customer.created_at)
    statement = (
        select(Customer.id, last_activity.label("last_activity"))
        .outerjoin(activity, activity.c.customer_id == Customer.id)
        .where(func.coalesce(activity.c.done, 0) < len(keys))
        .where(last_activity <= now - stalled_after)
        .where(exists().where(Conversation.customer_id == Customer.id))
        .order_by(last_activity, Customer.id)
    )
    if exclude_nudged:
        statement = statement.where(
            ~exists().where(
                OnboardingNudge.customer_id == Customer.id, OnboardingNudge.sent_at >= last_activity
            )
        )
    stalled: list[StalledCustomer] = []
    async with db.sessions() as session:
        candidates = [(row[0], row[1]) for row in await session.execute(statement)]
        for start in range(0, len(candidates), _CHUNK):
            chunk = candidates[start : start + _CHUNK]
            stalled += await _stalled_in_chunk(session, checklist, chunk, now, exclude_nudged)
            if limit is not None and len(stalled) >= limit:
                return stalled[:limit]
    return stalled
