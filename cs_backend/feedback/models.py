"""The feedback table: CSAT (1-5) and CES (1-7) ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.api.idempotency import FINGERPRINT_LENGTH
from cs_backend.db import Base, UTCDateTime, one_of, utcnow

Kind = Literal["csat", "ces"]
Resolver = Literal["bot", "agent"]
# The score scale of each kind: CSAT is 1-5, CES (customer effort score) is 1-7.
SCORE_RANGES = {"csat": (1, 5), "ces": (1, 7)}
# (kind = 'csat' AND score BETWEEN 1 AND 5) OR (kind = 'ces' AND score BETWEEN 1 AND 7)
_SCORE_IN_KIND_RANGE = " OR ".join(
    f"(kind = '{kind}' AND score BETWEEN {low} AND {high})" for kind, (low, high) in SCORE_RANGES.items()
)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        one_of("kind", Kind),
        CheckConstraint(_SCORE_IN_KIND_RANGE, name="score_range"),
        one_of("resolver", Resolver),
        Index("ix_feedback_created_at_id", "created_at", "id"),
        # One rating of each kind per survey: answering again updates it (cs_backend/surveys).
        UniqueConstraint("survey_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), index=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    # A rating (and its comment) goes with the ticket or the conversation it was given in.
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(50))
    intent: Mapped[str | None] = mapped_column(String(200))
    resolver: Mapped[str] = mapped_column(String(8), default="bot")
    # The person who handled the conversation, and the handoff, when the rating is about an agent's help.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    handoff_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoff_requests.id", ondelete="SET NULL"), index=True
    )
    # The survey the rating answers (None: a rating given outside a survey).
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    # Unique: a retried POST with the same key returns the first rating instead of counting it twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # The SHA-256 of the request first sent with the key (api/idempotency.py): the key reused with another
    # request is refused (422). Null on rows from before migration 0010: any request with their key gets them.
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(FINGERPRINT_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
