"""Onboarding progress: which steps a customer completed, completing a step (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.api.errors import InvalidRequest, NotFound, invalid_field
from cs_backend.customers.identity import Identity, identity_errors, resolve_customer
from cs_backend.db import Database, run_transaction, utcnow
from cs_backend.onboarding.checklist import Checklist, Step
from cs_backend.onboarding.models import OnboardingProgress
from cs_backend.onboarding.schemas import ProgressQuery, ProgressUpdate


@dataclass(frozen=True)
class StepProgress:
    key: str
    title: str
    done: bool
    completed_at: datetime | None
    source: str | None


@dataclass(frozen=True)
class Progress:
    customer_id: int
    steps: list[StepProgress]
    done_count: int
    total: int
    next_step: Step | None
    completed: bool


async def load_progress(session: AsyncSession, checklist: Checklist, customer_id: int) -> Progress:
    rows = await session.scalars(
        select(OnboardingProgress).where(OnboardingProgress.customer_id == customer_id)
    )
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
    """Progress of a customer; by conversation, the conversation and its anonymous customer are created on
    first contact (without refreshing an existing conversation's last_seen_at: reading is not activity)."""
    identity = Identity(query.customer_id, query.sender_id, query.channel)
    errors = identity_errors(identity)
    if errors:
        raise InvalidRequest("invalid query parameters", errors)

    async def work(session: AsyncSession) -> Progress:
        customer_id = await resolve_customer(
            session,
            identity,
            refresh_conversation=False,
            unknown_customer=lambda id_: NotFound(f"customer {id_} not found"),
        )
        return await load_progress(session, checklist, customer_id)

    return await run_transaction(db.sessions, work)


async def complete_step(db: Database, checklist: Checklist, data: ProgressUpdate) -> Progress:
    """Mark the step done (once: a step already done keeps its first completion) and return the progress.

    Everything is checked before the database is touched, so a bad request writes nothing.
    """
    identity = Identity(data.customer_id, data.sender_id, data.channel)
    errors = identity_errors(identity)
    if data.step not in checklist.by_key:
        errors = {"step": f"unknown step {data.step!r}; steps are: {', '.join(checklist.keys)}", **errors}
    if errors:
        raise InvalidRequest("invalid request body", errors)

    async def work(session: AsyncSession) -> Progress:
        customer_id = await resolve_customer(
            session,
            identity,
            refresh_conversation=True,
            unknown_customer=lambda id_: invalid_field("customer_id", f"customer {id_} does not exist"),
        )
        existing = await session.scalar(
            select(OnboardingProgress.id).where(
                OnboardingProgress.customer_id == customer_id, OnboardingProgress.step_key == data.step
            )
        )
        if existing is None:
            # A concurrent completion of the same step fails this flush (unique customer_id, step_key);
            # the retry finds the winner's row and changes nothing.
            session.add(
                OnboardingProgress(
                    customer_id=customer_id, step_key=data.step, completed_at=utcnow(), source=data.source
                )
            )
            await session.flush()
        return await load_progress(session, checklist, customer_id)

    return await run_transaction(db.sessions, work)
