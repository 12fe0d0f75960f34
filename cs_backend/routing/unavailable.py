"""A handoff nobody could take (availability.py) becomes a ticket carrying the packet, so the customer hears
back by email: at once when an email is known (given with the handoff, or the customer's), else once the bot
has asked for one (POST /api/routing/handoffs/{id}/ticket).

The ticket is opened through the tickets service (the customer upserted by email, the conversation linked but
not attached to that customer) and published as `ticket.created`. Its Idempotency-Key is derived from the
handoff, so a retry, or two requests at once, find the same ticket.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import update

from cs_backend.api.errors import Conflict, NotFound
from cs_backend.api.idempotency import IdempotencyKey
from cs_backend.customers.models import Customer
from cs_backend.db import Database
from cs_backend.live_events import LiveEvents, publish_safely
from cs_backend.onboarding.checklist import Checklist
from cs_backend.rasa_client import RasaClient
from cs_backend.routing.models import HandoffRequest
from cs_backend.routing.packet import assemble_packet
from cs_backend.routing.packet_text import render_packet
from cs_backend.tickets.schemas import TicketCreate, TicketOut
from cs_backend.tickets.service import create_ticket


def ticket_key(handoff_id: int) -> IdempotencyKey:
    """One ticket per handoff. The fingerprint stands for the handoff, not the body: the packet's text grows
    with the conversation, and a retry must find the ticket, not be refused as a different request."""
    value = f"handoff-{handoff_id}-ticket"
    return IdempotencyKey(value, hashlib.sha256(value.encode()).hexdigest())


async def _known_email(db: Database, handoff: HandoffRequest) -> str | None:
    if handoff.customer_id is None:
        return None
    async with db.sessions() as session:
        customer = await session.get(Customer, handoff.customer_id)
    return customer.email if customer is not None else None


async def open_ticket(
    db: Database,
    checklist: Checklist,
    rasa: RasaClient,
    events: LiveEvents,
    handoff_id: int,
    email: str | None,
) -> tuple[HandoffRequest, bool]:
    """(the handoff with its ticket, whether the ticket was opened now). Without `email`, the customer's is
    used; with none known the handoff is answered as it is (ticket_id null). 404 for an unknown handoff, 409
    for one that was not closed as unavailable."""
    async with db.sessions() as session:
        handoff = await session.get(HandoffRequest, handoff_id)
    if handoff is None:
        raise NotFound(f"handoff {handoff_id} not found")
    if handoff.unavailable is None:
        raise Conflict(f"handoff {handoff_id} was not closed as unavailable; it has no ticket to open")
    if handoff.ticket_id is not None:
        return handoff, False
    address = email or await _known_email(db, handoff)
    if address is None:
        return handoff, False
    packet = await assemble_packet(db, checklist, rasa, handoff_id)
    data = TicketCreate.model_validate(
        {
            "description": render_packet(packet),
            "email": address,
            "priority": packet.suggested_priority.priority,
            "subject": f"Live chat request {handoff_id}: nobody was available",
            "sender_id": handoff.sender_id,
            "channel": handoff.channel,
        }
    )
    ticket, created = await create_ticket(db, data, ticket_key(handoff_id))
    if created:
        await publish_safely(
            events, "ticket.created", TicketOut.model_validate(ticket).model_dump(mode="json")
        )
    async with db.sessions() as session:
        await session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id == handoff_id, HandoffRequest.ticket_id.is_(None))
            .values(ticket_id=ticket.id)
            .execution_options(synchronize_session=False)
        )
        # The email the customer gave goes with the handoff, as it does when given with the handoff itself.
        await session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id == handoff_id, HandoffRequest.customer_id.is_(None))
            .values(customer_id=ticket.customer_id)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        refreshed = await session.get(HandoffRequest, handoff_id)
    assert refreshed is not None
    return refreshed, created
