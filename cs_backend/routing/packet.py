"""The handoff packet: what the agent sees first when a handoff reaches them (docs/HANDOFF.md).

Its rows are the customer's (`_customers_of`) and those given in the handoff's conversation. It
gathers, reading only, the handoff (its reason and priority), the customer's profile, onboarding progress,
open tickets, last CSAT and CES and churn signals from cs_backend's tables, the conversation's summary from
Rasa's tracker, and the priority suggested from all of them (routing/priority.py). When Rasa cannot be
reached the packet is still whole without the summary, and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.api.errors import NotFound
from cs_backend.churn.models import ChurnSignal
from cs_backend.conversations.models import Conversation
from cs_backend.customers.models import Customer
from cs_backend.db import Database, utcnow
from cs_backend.feedback.models import Feedback
from cs_backend.onboarding.checklist import Checklist
from cs_backend.onboarding.service import Progress, load_progress
from cs_backend.rasa_client import RasaClient, RasaError
from cs_backend.routing.conversation_summary import ConversationSummary, summarize
from cs_backend.routing.models import HandoffRequest
from cs_backend.routing.priority import PriorityFacts, Suggestion, suggest_priority
from cs_backend.tickets.models import Ticket

logger = logging.getLogger(__name__)

# Tickets still waiting on someone.
OPEN_TICKET_STATUSES: Final = ("open", "pending")
# Newest first, at most this many of each list.
MAX_OPEN_TICKETS: Final = 20
MAX_CHURN_SIGNALS: Final = 10


@dataclass(frozen=True)
class CustomerRecord:
    """What cs_backend's tables say about the handoff's customer (all empty without a customer)."""

    customer: Customer | None
    onboarding: Progress
    open_tickets: list[Ticket]
    last_csat: Feedback | None
    last_ces: Feedback | None
    churn_signals: list[ChurnSignal]


@dataclass(frozen=True)
class Packet:
    handoff: HandoffRequest
    suggested_priority: Suggestion
    customer: Customer | None
    onboarding: Progress
    open_tickets: list[Ticket]
    last_csat: Feedback | None
    last_ces: Feedback | None
    churn_signals: list[ChurnSignal]
    conversation_available: bool
    conversation: ConversationSummary | None


async def _customers_of(session: AsyncSession, handoff: HandoffRequest) -> tuple[Customer | None, list[int]]:
    """The handoff's customer (its own, else its conversation's) and every customer id whose rows are theirs:
    also the conversation's customer when it is anonymous (a ticket, a rating or an onboarding step given in
    the conversation before an email was known), as a customer's export counts it (cs_backend/privacy). A
    conversation's customer with another email is someone else, and left out."""
    profile = await session.get(Customer, handoff.customer_id) if handoff.customer_id is not None else None
    ids = [profile.id] if profile is not None else []
    conversation = await session.get(Conversation, handoff.conversation_id)
    if (
        conversation is not None
        and conversation.customer_id is not None
        and conversation.customer_id not in ids
    ):
        other = await session.get(Customer, conversation.customer_id)
        if other is not None and (profile is None or other.email is None):
            ids.append(other.id)
            profile = profile or other
    return profile, ids


async def _onboarding(session: AsyncSession, checklist: Checklist, customer_ids: list[int]) -> Progress:
    """The progress of these customers together: a step done by any of them is done (first completion)."""
    if not customer_ids:
        return await load_progress(session, checklist, None)
    each = [await load_progress(session, checklist, customer_id) for customer_id in customer_ids]
    steps = []
    for index, step in enumerate(each[0].steps):
        done = [progress.steps[index] for progress in each if progress.steps[index].done]
        steps.append(min(done, key=lambda done_step: done_step.completed_at or utcnow()) if done else step)
    done_keys = {step.key for step in steps if step.done}
    next_step = checklist.next_step(done_keys)
    return Progress(
        customer_id=customer_ids[0],
        steps=steps,
        done_count=len(done_keys),
        total=len(checklist),
        next_step=next_step,
        completed=next_step is None,
    )


async def _last_rating(
    session: AsyncSession, kind: str, customer_ids: list[int], conversation_id: int
) -> Feedback | None:
    """The customer's latest rating of `kind`: given on one of their tickets or conversations, or in the
    handoff's conversation."""
    where = [
        Feedback.conversation_id == conversation_id,
        Feedback.ticket_id.in_(select(Ticket.id).where(Ticket.customer_id.in_(customer_ids))),
        Feedback.conversation_id.in_(
            select(Conversation.id).where(Conversation.customer_id.in_(customer_ids))
        ),
    ]
    found = await session.scalars(
        select(Feedback)
        .where(Feedback.kind == kind, or_(*where))
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(1)
    )
    return found.first()


async def _customer_record(
    session: AsyncSession, checklist: Checklist, handoff: HandoffRequest
) -> CustomerRecord:
    customer, customer_ids = await _customers_of(session, handoff)
    tickets = await session.scalars(
        select(Ticket)
        .where(
            or_(Ticket.customer_id.in_(customer_ids), Ticket.conversation_id == handoff.conversation_id),
            Ticket.status.in_(OPEN_TICKET_STATUSES),
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(MAX_OPEN_TICKETS)
    )
    signals = await session.scalars(
        select(ChurnSignal)
        .where(
            or_(
                ChurnSignal.customer_id.in_(customer_ids),
                ChurnSignal.conversation_id == handoff.conversation_id,
            )
        )
        .order_by(ChurnSignal.created_at.desc(), ChurnSignal.id.desc())
        .limit(MAX_CHURN_SIGNALS)
    )
    return CustomerRecord(
        customer=customer,
        onboarding=await _onboarding(session, checklist, customer_ids),
        open_tickets=list(tickets),
        last_csat=await _last_rating(session, "csat", customer_ids, handoff.conversation_id),
        last_ces=await _last_rating(session, "ces", customer_ids, handoff.conversation_id),
        churn_signals=list(signals),
    )


async def _conversation_summary(rasa: RasaClient, sender_id: str) -> ConversationSummary | None:
    try:
        tracker = await rasa.tracker(sender_id)
    except RasaError as error:
        logger.warning("handoff packet without the conversation summary: %s", error)
        return None
    return summarize(tracker.get("events"))


async def assemble_packet(db: Database, checklist: Checklist, rasa: RasaClient, handoff_id: int) -> Packet:
    """The packet of handoff `handoff_id` (NotFound for an unknown one); writes nothing."""
    async with db.sessions() as session:
        handoff = await session.get(HandoffRequest, handoff_id)
        if handoff is None:
            raise NotFound(f"handoff {handoff_id} not found")
        record = await _customer_record(session, checklist, handoff)
    summary = await _conversation_summary(rasa, handoff.sender_id)
    suggestion = suggest_priority(
        PriorityFacts(
            priority=handoff.priority,
            at_risk=handoff.at_risk,
            high_value=handoff.high_value,
            last_csat=record.last_csat.score if record.last_csat is not None else None,
            churn_outcomes=[signal.outcome for signal in record.churn_signals],
            customer_messages=summary.customer_messages if summary is not None else [],
        )
    )
    return Packet(
        handoff=handoff,
        suggested_priority=suggestion,
        customer=record.customer,
        onboarding=record.onboarding,
        open_tickets=record.open_tickets,
        last_csat=record.last_csat,
        last_ces=record.last_ces,
        churn_signals=record.churn_signals,
        conversation_available=summary is not None,
        conversation=summary,
    )
