"""The onboarding_progress and onboarding_nudges tables."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, one_of, utcnow

# Who reported a step: the customer in the chat, or the product (a backend event).
Source = Literal["customer", "product"]


class CompletedStep(Base):
    """One row per completed step of a customer. Step keys are the checklist's (checklist.toml); a row whose
    key left the checklist is kept but no longer counts."""

    __tablename__ = "onboarding_progress"
    __table_args__ = (
        # One completion per customer and step: completing it again changes nothing, and two concurrent
        # completions converge on one row (db.run_transaction retries the loser). Its index also serves
        # every lookup by customer_id.
        UniqueConstraint("customer_id", "step_key"),
        one_of("source", Source),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    step_key: Mapped[str] = mapped_column(String(50))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Who reported it: the customer in the chat, or the product (a backend event).
    source: Mapped[str] = mapped_column(String(16))


class OnboardingNudge(Base):
    """A nudge Rasa accepted (2xx): at most one per customer and step."""

    __tablename__ = "onboarding_nudges"
    __table_args__ = (UniqueConstraint("customer_id", "step_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    step_key: Mapped[str] = mapped_column(String(50))
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
