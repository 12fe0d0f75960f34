"""The surveys table: one survey per trigger subject (a ticket, a handoff, a customer's onboarding)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, one_of, utcnow

# What the survey follows; its subject_id is the ticket, the handoff, or the customer.
Trigger = Literal["ticket_resolved", "handoff_ended", "onboarding_completed"]
# The triggers the bot opens itself (it asks in the conversation it is in); ticket_resolved is the backend's.
BotTrigger = Literal["handoff_ended", "onboarding_completed"]
# pending: waiting to reach Rasa (the delivery job retries); sent: asked in the conversation; answered: a
# rating came; suppressed: within the customer's cooldown, nothing sent; abandoned: never delivered (no
# conversation, or Rasa unreachable past SURVEY_DELIVERY_GIVE_UP_HOURS).
State = Literal["pending", "sent", "answered", "suppressed", "abandoned"]
# Surveys that count for the cooldown: those the customer was (or is about to be) asked.
ASKED_STATES: tuple[State, ...] = ("pending", "sent", "answered")
# A low score: CSAT 1-2, CES 1-3 (of 7). With a comment, a person follows up.
LOW_SCORE_MAX = {"csat": 2, "ces": 3}


class Survey(Base):
    __tablename__ = "surveys"
    __table_args__ = (
        one_of("trigger", Trigger),
        one_of("state", State),
        # One survey per trigger subject: a ticket resolved twice (reopened) is surveyed once.
        UniqueConstraint("trigger", "subject_id"),
        # The cooldown's lookup: the customer's latest surveys.
        Index("ix_surveys_customer_id_created_at", "customer_id", "created_at"),
        # The delivery job's lookup.
        Index("ix_surveys_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    # None: an anonymous conversation (the cooldown then counts that conversation's surveys).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    # Where the survey is asked (the conversation's Rasa sender id and channel when it was opened).
    sender_id: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    # The follow-up task raised for a low score with a comment (alerts.follow_up_tasks, raised once per
    # survey: its source_ref is "survey:<id>"), and when.
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follow_up_task_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
