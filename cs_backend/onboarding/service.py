"""Onboarding progress: who the customer is, which steps they completed, completing a step (idempotent)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.conversations.models import Conversation
from cs_backend.conversations.service import touch_conversation
from cs_backend.customers.models import Customer
from cs_backend.db import Database, run_transaction, utcnow
from cs_backend.errors import ApiError, InvalidRequest, NotFound, invalid_field
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


@dataclass(frozen=True)
class Identity:
    """Who the onboarding is about: a customer, or the conversation (sender_id, channel)."""

    customer_id: int | None
    sender_id: str | None
    channel: str | None


def identity_errors(identity: Identity) -> dict[str, str]:
    """{field: message} for an incomplete or ambiguous identity, {} when it is usable."""
    either = "give either customer_id, or sender_id and channel, not both"
    if identity.customer_id is not None:
        if identity.sender_id is not None:
            return {"sender_id": either}
        if identity.channel is not None:
            return {"channel": either}
        return {}
    if identity.sender_id is None:
        if identity.channel is not None:
            return {"sender_id": "required with channel"}
        needed = "give customer_id, or sender_id and channel"
        return {"customer_id": needed, "sender_id": needed}
    if identity.channel is None:
        return {"channel": "required with sender_id"}
    return {}


async def _anonymous_customer_of(session: AsyncSession, conversation: Conversation) -> int:
    """Create an anonymous customer (no email) and attach it to the conversation, which has none.

    The UPDATE only attaches when the conversation still has no customer, so two concurrent first requests
    cannot leave the conversation with one customer and the progress on another: the loser removes its
    customer and uses the winner's.
    """
    customer = Customer(email=None, name=None, created_at=utcnow())
    session.add(customer)
    await session.flush()
    attached = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.customer_id.is_(None))
        .values(customer_id=customer.id)
        .execution_options(synchronize_session=False)
    )
    if attached.rowcount == 1:  # type: ignore[attr-defined]
        return customer.id
    await session.delete(customer)
    await session.flush()
    winner = await session.scalar(select(Conversation.customer_id).where(Conversation.id == conversation.id))
    if winner is None:  # cannot happen: the UPDATE matched no row because another customer is attached
        raise RuntimeError(f"conversation {conversation.id} lost its customer during onboarding")
    return winner


async def resolve_customer(
    session: AsyncSession,
    identity: Identity,
    *,
    refresh_conversation: bool,
    unknown_customer: Callable[[int], ApiError],
) -> int:
    """The customer id of a (checked) identity, inside the caller's transaction.

    By sender_id and channel: the conversation is created if new (and refreshed with `refresh_conversation`),
    and gets an anonymous customer if it has none. An unknown customer_id raises unknown_customer(id).
    """
    if identity.customer_id is not None:
        customer = await session.get(Customer, identity.customer_id)
        if customer is None:
            raise unknown_customer(identity.customer_id)
        return customer.id
    assert identity.sender_id is not None and identity.channel is not None
    conversation = await session.scalar(
        select(Conversation).where(
            Conversation.sender_id == identity.sender_id, Conversation.channel == identity.channel
        )
    )
    if conversation is None or refresh_conversation:
        # A concurrent creation of the same conversation fails the flush (unique sender_id, channel), and
        # run_transaction runs everything again, finding it.
        conversation, _ = await touch_conversation(session, identity.sender_id, identity.channel)
    if conversation.customer_id is not None:
        return conversation.customer_id
    return await _anonymous_customer_of(session, conversation)


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
