"""Rows of one customer's history written straight into the database, with the timestamps a test needs
(the API stamps "now"): shared by the health features, scoring and rescore tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.activities.models import CustomerActivity
from cs_backend.churn.models import ChurnSignal
from cs_backend.conversations.models import Conversation
from cs_backend.customers.models import Customer
from cs_backend.db import Database
from cs_backend.feedback.models import Feedback
from cs_backend.onboarding.models import CompletedStep
from cs_backend.outcomes.models import ConversationOutcome
from cs_backend.routing.models import HandoffRequest
from cs_backend.tickets.models import Ticket

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@dataclass
class CustomerRows:
    """Adds rows of one customer in one session; call `await rows.flush()` before reading ids."""

    session: AsyncSession
    customer: Customer
    conversation: Conversation

    @classmethod
    async def create(cls, session: AsyncSession, email: str, joined_days_ago: float) -> CustomerRows:
        customer = Customer(email=email, created_at=days_ago(joined_days_ago))
        session.add(customer)
        await session.flush()
        conversation = Conversation(
            sender_id=f"sender-{customer.id}",
            channel="socketio",
            customer_id=customer.id,
            started_at=days_ago(joined_days_ago),
            last_seen_at=days_ago(joined_days_ago),
        )
        session.add(conversation)
        await session.flush()
        return cls(session, customer, conversation)

    @property
    def id(self) -> int:
        return self.customer.id

    def seen(self, days: float) -> None:
        self.conversation.last_seen_at = days_ago(days)

    def step(self, key: str, days: float) -> None:
        self.session.add(
            CompletedStep(customer_id=self.id, step_key=key, completed_at=days_ago(days), source="customer")
        )

    async def ticket(self, days: float, status: str = "open") -> Ticket:
        ticket = Ticket(
            subject="s",
            description="d",
            status=status,
            email=self.customer.email or "x@example.com",
            customer_id=self.id,
            conversation_id=self.conversation.id,
            channel="socketio",
            created_at=days_ago(days),
            updated_at=days_ago(days),
        )
        self.session.add(ticket)
        await self.session.flush()
        return ticket

    def rating(self, kind: str, score: int, days: float, ticket: Ticket | None = None) -> None:
        self.session.add(
            Feedback(
                kind=kind,
                score=score,
                ticket_id=ticket.id if ticket else None,
                conversation_id=None if ticket else self.conversation.id,
                channel="socketio",
                created_at=days_ago(days),
            )
        )

    def handoff(self, days: float) -> None:
        self.session.add(
            HandoffRequest(
                conversation_id=self.conversation.id,
                sender_id=self.conversation.sender_id,
                channel="socketio",
                customer_id=self.id,
                language="en",
                priority="normal",
                reason="customer_request",
                state="resolved",
                queued_at=days_ago(days),
                updated_at=days_ago(days),
            )
        )

    def session_outcome(self, outcome: str, days: float) -> None:
        ended = days_ago(days)
        self.session.add(
            ConversationOutcome(
                sender_id=self.conversation.sender_id,
                channel="socketio",
                session_started_at=ended - timedelta(minutes=5),
                ended_at=ended,
                outcome=outcome,
                intents=["greet"],
                decided_at=ended,
            )
        )

    def churn_signal(self, days: float, kind: str = "cancel_request") -> None:
        self.session.add(
            ChurnSignal(customer_id=self.id, kind=kind, outcome="open", created_at=days_ago(days))
        )

    def activity(self, kind: str, days: float, amount_cents: int | None = None) -> None:
        self.session.add(
            CustomerActivity(
                customer_id=self.id,
                kind=kind,
                occurred_at=days_ago(days),
                amount_cents=amount_cents,
                currency="EUR" if amount_cents is not None else None,
                created_at=days_ago(days),
            )
        )

    async def flush(self) -> None:
        await self.session.flush()


async def healthy_and_struggling(db: Database) -> tuple[int, int]:
    """Two customers at NOW: one healthy (onboarded, active, happy), one struggling (stalled, silent,
    tickets piling up, unhappy, handed off, abandoning, asking to cancel). Returns their ids."""
    async with db.sessions() as session:
        happy = await CustomerRows.create(session, "happy@example.com", joined_days_ago=200)
        for key in ("sign_up", "verify_email", "complete_profile", "connect_integration", "invite_teammate"):
            happy.step(key, days=150)
        happy.activity("login", days=1)
        happy.activity("payment", days=10, amount_cents=4900)
        happy.activity("payment", days=40, amount_cents=4900)
        resolved = await happy.ticket(days=60, status="resolved")
        happy.rating("csat", 5, days=59, ticket=resolved)
        happy.rating("ces", 7, days=20)
        happy.session_outcome("resolved_by_bot", days=5)

        sad = await CustomerRows.create(session, "sad@example.com", joined_days_ago=120)
        sad.step("sign_up", days=119)
        sad.seen(days=45)
        for days in (40, 20, 3):
            await sad.ticket(days=days)
        sad.rating("csat", 4, days=70)
        sad.rating("csat", 1, days=10)
        sad.rating("csat", 2, days=5)
        sad.rating("ces", 2, days=5)
        sad.handoff(days=15)
        sad.handoff(days=2)
        for days in (25, 12, 6):
            sad.session_outcome("abandoned", days=days)
        sad.session_outcome("escalated", days=2)
        sad.churn_signal(days=3)
        await session.commit()
        return happy.id, sad.id
