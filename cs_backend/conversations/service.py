"""Conversation upsert (one per Rasa sender id and channel) and lookup."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.conversations.models import Conversation
from cs_backend.conversations.schemas import ConversationUpsert
from cs_backend.customers.service import find_or_create_customer
from cs_backend.db import Database, get_or_not_found, run_transaction, utcnow


async def touch_conversation(
    session: AsyncSession, sender_id: str, channel: str, customer_id: int | None = None
) -> tuple[Conversation, bool]:
    """The conversation (sender_id, channel), created if new, its last_seen_at refreshed; attaches the
    customer when one is given. Flushes inside the caller's transaction (see find_or_create_customer)."""
    now = utcnow()
    conversation = await session.scalar(
        select(Conversation).where(Conversation.sender_id == sender_id, Conversation.channel == channel)
    )
    if conversation is None:
        conversation = Conversation(
            sender_id=sender_id, channel=channel, customer_id=customer_id, started_at=now, last_seen_at=now
        )
        session.add(conversation)
        await session.flush()
        return conversation, True
    conversation.last_seen_at = now
    if customer_id is not None:
        conversation.customer_id = customer_id
    await session.flush()
    return conversation, False


async def upsert_conversation(db: Database, data: ConversationUpsert) -> tuple[Conversation, bool]:
    """Returns (conversation, created)."""

    async def work(session: AsyncSession) -> tuple[Conversation, bool]:
        customer_id = None
        if data.email is not None:
            customer, _ = await find_or_create_customer(session, data.email)
            customer_id = customer.id
        return await touch_conversation(session, data.sender_id, data.channel, customer_id)

    return await run_transaction(db.sessions, work)


async def get_conversation(db: Database, conversation_id: int) -> Conversation:
    return await get_or_not_found(db, Conversation, conversation_id, "conversation")
