"""Ticket creation (idempotent), lookup, listing and status changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.api.errors import Conflict, NotFound
from cs_backend.api.idempotency import IdempotencyKey
from cs_backend.conversations.models import Conversation
from cs_backend.conversations.service import touch_conversation
from cs_backend.customers.service import find_or_create_customer
from cs_backend.db import Database, create_once, get_or_not_found, utcnow
from cs_backend.identities.models import CustomerIdentity
from cs_backend.paging import Page, fetch_page, where_given
from cs_backend.tickets.models import Ticket
from cs_backend.tickets.schemas import TicketCreate, TicketQuery
from cs_backend.tickets.transitions import check_transition

# A status change re-reads and re-checks when another request changed the status in between; this many
# times at most (only reachable under a storm of concurrent changes to one ticket).
STATUS_CHANGE_ATTEMPTS = 5


async def create_ticket(
    db: Database, data: TicketCreate, idempotency_key: IdempotencyKey | None
) -> tuple[Ticket, bool]:
    """Returns (ticket, created). With a key seen before: (the ticket first created with it, False).

    The customer (by email) and, with sender_id, the conversation are upserted in the same transaction, so a
    ticket never exists without them and a failure leaves nothing half-written. The conversation keeps its
    own customer: the email is typed by whoever chats, so it must not move the conversation (and its later
    onboarding and churn writes, its nudges) to that address's customer, nor show them that customer's data.
    """

    async def build(session: AsyncSession) -> Ticket:
        customer, _ = await find_or_create_customer(session, data.email)
        conversation = None
        if data.sender_id is not None:
            conversation, _ = await touch_conversation(session, data.sender_id, data.channel)
        now = utcnow()
        return Ticket(
            subject=data.effective_subject(),
            description=data.description,
            priority=data.priority,
            status="open",
            email=customer.email,
            customer_id=customer.id,
            conversation_id=conversation.id if conversation is not None else None,
            channel=data.channel,
            created_at=now,
            updated_at=now,
        )

    return await create_once(db, Ticket, idempotency_key, build)


async def get_ticket(db: Database, ticket_id: int) -> Ticket:
    return await get_or_not_found(db, Ticket, ticket_id, "ticket")


async def list_tickets(db: Database, query: TicketQuery) -> Page[Ticket]:
    whole_customer = query.sender_id is not None and query.scope == "customer"
    statement = where_given(
        select(Ticket),
        (Ticket.status, query.status),
        (Ticket.priority, query.priority),
        (Ticket.email, query.email),
        (Ticket.channel, None if whole_customer else query.channel),
    )
    if query.sender_id is not None and whole_customer:
        statement = statement.where(_of_the_conversations_customer(query.sender_id, query.channel))
    elif query.sender_id is not None:
        statement = statement.join(Conversation, Ticket.conversation_id == Conversation.id).where(
            Conversation.sender_id == query.sender_id
        )
    newest_first = (Ticket.created_at.desc(), Ticket.id.desc())
    return await fetch_page(db, statement, *newest_first, limit=query.limit, offset=query.offset)


def _of_the_conversations_customer(sender_id: str, channel: str | None) -> ColumnElement[bool]:
    """Tickets of the conversation (sender_id[, channel]) and, when its customer is identified (a verified
    website user, a linked Slack or Telegram account: customer_identities), of that customer's other
    conversations on any channel and in their name. An anonymous customer's tickets stay their conversation's:
    an email typed in a chat proves nothing (see create_ticket)."""
    conversations = select(Conversation.id).where(Conversation.sender_id == sender_id)
    if channel is not None:
        conversations = conversations.where(Conversation.channel == channel)
    identified = select(CustomerIdentity.customer_id).where(
        CustomerIdentity.unlinked_at.is_(None),
        CustomerIdentity.customer_id.in_(
            select(Conversation.customer_id).where(Conversation.id.in_(conversations))
        ),
    )
    their_conversations = select(Conversation.id).where(Conversation.customer_id.in_(identified))
    return or_(
        Ticket.conversation_id.in_(conversations),
        Ticket.conversation_id.in_(their_conversations),
        Ticket.customer_id.in_(identified),
    )


# Runs inside the status change's transaction, after the change (a resolved ticket's survey).
AfterChange = Callable[[AsyncSession, Ticket, str], Awaitable[None]]


async def change_status(
    db: Database, ticket_id: int, target: str, after: AfterChange | None = None
) -> Ticket:
    """Move the ticket to `target` if the workflow allows it from its current status (else 409); `after`
    (session, ticket, previous status) runs in the same transaction, so what it writes commits with the
    change.

    The UPDATE is conditional on the status that was checked, so two concurrent changes cannot both
    succeed from the same starting status (this holds on SQLite too, which has no SELECT ... FOR UPDATE).
    """
    for _ in range(STATUS_CHANGE_ATTEMPTS):
        async with db.sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"ticket {ticket_id} not found")
            current = ticket.status
            check_transition(current, target)
            result = await session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.status == current)
                .values(status=target, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                await session.refresh(ticket)
                if after is not None:
                    await after(session, ticket, current)
                await session.commit()
                return ticket
            await session.rollback()  # changed in between: read the new status and check again
    raise Conflict(f"ticket {ticket_id} is being changed by other requests; try again")
