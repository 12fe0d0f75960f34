"""Feedback (CSAT / CES ratings): idempotent creation and listing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.accounts.models import Account
from cs_backend.api.errors import NotFound
from cs_backend.api.idempotency import IdempotencyKey
from cs_backend.conversations.service import touch_conversation
from cs_backend.db import Database, create_once, utcnow
from cs_backend.feedback.models import Feedback
from cs_backend.feedback.schemas import FeedbackCreate, FeedbackQuery
from cs_backend.paging import Page, fetch_page, where_given
from cs_backend.routing.models import HandoffRequest
from cs_backend.tickets.models import Ticket


async def create_feedback(
    db: Database, data: FeedbackCreate, idempotency_key: IdempotencyKey | None
) -> tuple[Feedback, bool]:
    """Returns (feedback, created). With a key seen before: (the rating first created with it, False).

    Without sender_id, a rating about a ticket is linked to the ticket's conversation, if it has one.
    """

    async def build(session: AsyncSession) -> Feedback:
        ticket = None
        if data.ticket_id is not None:
            ticket = await session.get(Ticket, data.ticket_id)
            if ticket is None:
                # The body is valid; what it refers to is not found.
                raise NotFound(f"ticket {data.ticket_id} not found", {"ticket_id": "no such ticket"})
        if data.agent_id is not None and await session.get(Account, data.agent_id) is None:
            raise NotFound(f"account {data.agent_id} not found", {"agent_id": "no such agent"})
        handoff = None
        if data.handoff_id is not None:
            handoff = await session.get(HandoffRequest, data.handoff_id)
            if handoff is None:
                raise NotFound(f"handoff {data.handoff_id} not found", {"handoff_id": "no such handoff"})
        conversation_id = ticket.conversation_id if ticket is not None else None
        if conversation_id is None and handoff is not None:
            conversation_id = handoff.conversation_id
        if data.sender_id is not None:
            conversation, _ = await touch_conversation(session, data.sender_id, data.channel)
            conversation_id = conversation.id
        return Feedback(
            kind=data.kind,
            score=data.score,
            comment=data.comment,
            ticket_id=data.ticket_id,
            conversation_id=conversation_id,
            channel=data.channel,
            intent=data.intent,
            resolver=data.resolver,
            agent_id=data.agent_id,
            handoff_id=data.handoff_id,
            created_at=utcnow(),
        )

    return await create_once(db, Feedback, idempotency_key, build)


async def list_feedback(db: Database, query: FeedbackQuery) -> Page[Feedback]:
    statement = where_given(
        select(Feedback),
        (Feedback.kind, query.kind),
        (Feedback.ticket_id, query.ticket_id),
    )
    newest_first = (Feedback.created_at.desc(), Feedback.id.desc())
    return await fetch_page(db, statement, *newest_first, limit=query.limit, offset=query.offset)
