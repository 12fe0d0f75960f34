"""What other domains call, after their commit, when their change can move a customer's health score and the
customer is not at hand in the row they wrote (the others publish to HEALTH_SIGNALS directly)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from cs_backend.app_keys import DATABASE, HEALTH_SIGNALS
from cs_backend.conversations.models import Conversation
from cs_backend.feedback.models import Feedback
from cs_backend.tickets.models import Ticket


async def feedback_recorded(app: web.Application, feedback: Feedback) -> None:
    """Signal the rescore of the customer a rating belongs to: its ticket's, else its conversation's."""
    async with app[DATABASE].sessions() as session:
        customer_id = None
        if feedback.ticket_id is not None:
            customer_id = await session.scalar(
                select(Ticket.customer_id).where(Ticket.id == feedback.ticket_id)
            )
        if customer_id is None and feedback.conversation_id is not None:
            customer_id = await session.scalar(
                select(Conversation.customer_id).where(Conversation.id == feedback.conversation_id)
            )
    await app[HEALTH_SIGNALS].publish(customer_id, f"feedback.{feedback.kind}")
