"""Who a request is about: a customer, or a Rasa conversation (sender_id, channel) that stands for one.

Shared by the domains the assistant writes to on behalf of a customer it may not know by email yet (onboarding
progress, churn signals): a conversation without a customer gets an anonymous one the first time it is written
for (resolve_customer); reading (find_customer) never creates one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.api.errors import ApiError, NotFound
from cs_backend.conversations.models import Conversation
from cs_backend.conversations.service import touch_conversation
from cs_backend.customers.models import Customer
from cs_backend.db import utcnow


@dataclass(frozen=True)
class Identity:
    """A customer, or the conversation (sender_id, channel) that stands for one."""

    customer_id: int | None
    sender_id: str | None
    channel: str | None


# identity_errors' rule as the JSON Schema of a request body states it (null is absent, api/types.py):
# customer_id alone, or sender_id and channel without customer_id.
IDENTITY_SCHEMA_RULES: dict[str, Any] = {
    "oneOf": [
        {
            "required": ["customer_id"],
            "properties": {
                "customer_id": {"type": "integer"},
                "sender_id": {"type": "null"},
                "channel": {"type": "null"},
            },
        },
        {
            "required": ["sender_id", "channel"],
            "properties": {
                "customer_id": {"type": "null"},
                "sender_id": {"type": "string"},
                "channel": {"type": "string"},
            },
        },
    ]
}


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


def unknown_customer_in_body(customer_id: int) -> ApiError:
    """A request body's customer_id names no customer: 404 naming that field (the body is valid: what it
    refers to is not found)."""
    return NotFound(f"customer {customer_id} not found", {"customer_id": "no such customer"})


def unknown_customer_in_query(customer_id: int) -> ApiError:
    """A query's customer_id names no customer: the resource asked for is not found (404)."""
    return NotFound(f"customer {customer_id} not found")


async def _existing_customer(
    session: AsyncSession, customer_id: int, unknown_customer: Callable[[int], ApiError]
) -> int:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise unknown_customer(customer_id)
    return customer.id


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
        raise RuntimeError(f"conversation {conversation.id} lost its customer while it was being resolved")
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
        return await _existing_customer(session, identity.customer_id, unknown_customer)
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


async def find_customer(
    session: AsyncSession, identity: Identity, *, unknown_customer: Callable[[int], ApiError]
) -> int | None:
    """The customer id of a (checked) identity, reading only: None when the conversation is unknown or has no
    customer yet. An unknown customer_id raises unknown_customer(id)."""
    if identity.customer_id is not None:
        return await _existing_customer(session, identity.customer_id, unknown_customer)
    assert identity.sender_id is not None and identity.channel is not None
    customer_id: int | None = await session.scalar(
        select(Conversation.customer_id).where(
            Conversation.sender_id == identity.sender_id, Conversation.channel == identity.channel
        )
    )
    return customer_id
