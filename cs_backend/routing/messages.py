"""A handoff's transcript (handoff_messages) and the messages relayed between the customer and the agent.

- The customer's messages arrive from the bot's relay action (POST .../customer-messages): stored while the
  handoff is queued, assigned or accepted, once per Rasa message id.
- The agent's messages (POST .../messages, and the console's websocket through `send_agent_message`) are
  stored, then relayed to the customer through Rasa (customer_relay.py); the first one records the first
  response. When Rasa cannot be reached the message stays stored with delivery "failed" and the caller gets
  DeliveryFailed (503); sending it again with the same client_id retries its delivery, never a second copy.
- Notes are internal: stored, shown to agents, never relayed.
- System entries say what happened (accepted, handed back, cancelled), and the customer is told through Rasa.

Every new or changed entry is published as the live event `handoff.message` (the entry and its handoff_id)
after the commit.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.accounts.models import Account
from cs_backend.api.errors import Conflict, NotFound, ServiceUnavailable
from cs_backend.db import Database, run_transaction
from cs_backend.live_events import LiveEvents, publish_safely
from cs_backend.routing.customer_relay import CustomerRelay
from cs_backend.routing.models import ACTIVE_STATES, HandoffMessage, HandoffRequest
from cs_backend.routing.schemas import HandoffMessageOut
from cs_backend.routing.service import Actor, NotTheAssignedAgent, RoutingEngine


class DeliveryFailed(ServiceUnavailable):
    """503: the agent's message is stored, but Rasa could not take it to the customer."""

    def __init__(self, message: HandoffMessage) -> None:
        super().__init__(
            f"message {message.id} is stored but could not be delivered to the customer (Rasa unreachable); "
            "send it again with the same client_id to retry"
        )
        self.message_id = message.id


def message_event(handoff_id: int, message: HandoffMessage) -> dict[str, Any]:
    """The payload of `handoff.message`: the entry as GET .../messages shows it, and its handoff."""
    return {**HandoffMessageOut.model_validate(message).model_dump(mode="json"), "handoff_id": handoff_id}


async def _handoff(session: AsyncSession, handoff_id: int) -> HandoffRequest:
    handoff = await session.get(HandoffRequest, handoff_id)
    if handoff is None:
        raise NotFound(f"handoff {handoff_id} not found")
    return handoff


async def _display_name(session: AsyncSession, account_id: int | None) -> str | None:
    if account_id is None:
        return None
    account = await session.get(Account, account_id)
    return account.display_name if account is not None else None


@dataclass
class HandoffMessaging:
    db: Database
    engine: RoutingEngine
    relay: CustomerRelay
    events: LiveEvents

    async def _publish(self, handoff_id: int, message: HandoffMessage) -> None:
        await publish_safely(self.events, "handoff.message", message_event(handoff_id, message))

    async def transcript(self, handoff_id: int) -> list[HandoffMessage]:
        async with self.db.sessions() as session:
            await _handoff(session, handoff_id)
            found = await session.scalars(
                select(HandoffMessage)
                .where(HandoffMessage.handoff_id == handoff_id)
                .order_by(HandoffMessage.id)
            )
            return list(found)

    async def add_customer_message(
        self, handoff_id: int, text: str, message_id: str | None
    ) -> tuple[HandoffRequest, bool]:
        """(the handoff, whether the message was stored now). Nothing is stored once the handoff is resolved
        or cancelled (the bot takes the conversation back), nor twice for one message id."""

        async def work(session: AsyncSession) -> tuple[HandoffRequest, HandoffMessage | None]:
            handoff = await _handoff(session, handoff_id)
            if handoff.state not in ACTIVE_STATES:
                return handoff, None
            if message_id is not None:
                seen = await session.scalar(
                    select(HandoffMessage.id).where(
                        HandoffMessage.handoff_id == handoff_id,
                        HandoffMessage.kind == "customer",
                        HandoffMessage.external_id == message_id,
                    )
                )
                if seen is not None:
                    return handoff, None
            message = HandoffMessage(
                handoff_id=handoff_id,
                kind="customer",
                text=text,
                external_id=message_id,
                created_at=self.engine.clock(),
            )
            session.add(message)
            await session.flush()
            return handoff, message

        handoff, message = await run_transaction(self.db.sessions, work)
        if message is not None:
            await self._publish(handoff_id, message)
        return handoff, message is not None

    async def add_note(self, handoff_id: int, actor: Actor, text: str) -> HandoffMessage:
        async with self.db.sessions() as session:
            await _handoff(session, handoff_id)
            message = HandoffMessage(
                handoff_id=handoff_id,
                kind="note",
                author_id=actor.account_id,
                author_name=await _display_name(session, actor.account_id),
                text=text,
                created_at=self.engine.clock(),
            )
            session.add(message)
            await session.commit()
        await self._publish(handoff_id, message)
        return message

    async def send_agent_message(
        self, handoff_id: int, actor: Actor, text: str, client_id: str | None
    ) -> HandoffMessage:
        """Store the message of the agent holding the accepted handoff (or an admin) and relay it to the
        customer. With a client_id seen before: that message, its delivery retried if it had failed (`text`
        is not used then). Raises NotFound, NotTheAssignedAgent (403), Conflict (409: not accepted) and
        DeliveryFailed (503: stored, not delivered)."""
        message, handoff, created = await self._store_agent_message(handoff_id, actor, text, client_id)
        if message.delivery == "delivered":
            return message
        if created:
            await self._publish(handoff_id, message)
        delivered = await self.relay.agent_message(handoff, message.author_name or "", message.text)
        async with self.db.sessions() as session:
            await session.execute(
                update(HandoffMessage)
                .where(HandoffMessage.id == message.id)
                .values(delivery="delivered" if delivered else "failed")
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            stored = await session.get(HandoffMessage, message.id, populate_existing=True)
        assert stored is not None
        await self._publish(handoff_id, stored)
        if not delivered:
            raise DeliveryFailed(stored)
        if handoff.first_response_at is None:
            # Handed on meanwhile (Conflict, 403): the new holder's first answer counts instead.
            with suppress(Conflict, NotTheAssignedAgent):
                await self.engine.record_first_response(handoff_id, actor)
        return stored

    async def _store_agent_message(
        self, handoff_id: int, actor: Actor, text: str, client_id: str | None
    ) -> tuple[HandoffMessage, HandoffRequest, bool]:
        async def work(session: AsyncSession) -> tuple[HandoffMessage, HandoffRequest, bool]:
            handoff = await _handoff(session, handoff_id)
            if actor.role != "admin" and handoff.agent_id != actor.account_id:
                raise NotTheAssignedAgent(f"handoff {handoff_id} is not held by you")
            existing = None
            if client_id is not None:
                existing = await session.scalar(
                    select(HandoffMessage).where(
                        HandoffMessage.handoff_id == handoff_id,
                        HandoffMessage.kind == "agent",
                        HandoffMessage.external_id == client_id,
                    )
                )
            if existing is not None and existing.delivery == "delivered":
                return existing, handoff, False
            if handoff.state != "accepted":
                raise Conflict(
                    f"handoff {handoff_id} is '{handoff.state}'; messages go only to an accepted handoff"
                )
            if existing is not None:
                return existing, handoff, False
            message = HandoffMessage(
                handoff_id=handoff_id,
                kind="agent",
                author_id=actor.account_id,
                author_name=await _display_name(session, actor.account_id),
                text=text,
                external_id=client_id,
                created_at=self.engine.clock(),
            )
            session.add(message)
            await session.flush()
            return message, handoff, True

        return await run_transaction(self.db.sessions, work)

    # --- what happened, told to the customer ----------------------------------------------------------------

    async def _system_entry(self, handoff_id: int, text: str) -> None:
        async with self.db.sessions() as session:
            message = HandoffMessage(
                handoff_id=handoff_id, kind="system", text=text, created_at=self.engine.clock()
            )
            session.add(message)
            await session.commit()
        await self._publish(handoff_id, message)

    async def agent_name(self, account_id: int | None) -> str | None:
        async with self.db.sessions() as session:
            return await _display_name(session, account_id)

    async def accepted(self, handoff: HandoffRequest) -> None:
        """The agent accepted: the transcript says so and the customer is told who they chat with."""
        name = await self.agent_name(handoff.agent_id) or "an agent"
        await self._system_entry(handoff.id, f"{name} accepted the conversation.")
        await self.relay.accepted(handoff, name)

    async def ended(self, handoff: HandoffRequest, outcome: str, by: Actor | None) -> None:
        """Resolved (handed back to the bot, which asks CSAT and CES) or cancelled by an agent or admin."""
        agent_id = handoff.agent_id
        name = await self.agent_name(agent_id)
        actor_name = await self.agent_name(by.account_id) if by is not None else None
        if outcome == "resolved":
            text = f"{name or 'The agent'} handed the conversation back to the assistant."
        else:
            text = f"{actor_name or 'The service'} cancelled the handoff."
        await self._system_entry(handoff.id, text)
        await self.relay.ended(handoff, outcome, agent_id, name)
