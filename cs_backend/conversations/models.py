"""The conversations table: one row per Rasa sender id and channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, utcnow


class Conversation(Base):
    __tablename__ = "conversations"
    # The natural key the actions know; unique so concurrent upserts converge on one row.
    __table_args__ = (UniqueConstraint("sender_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(50))
    # Deleting a customer deletes their conversations (and, through them, what refers to those).
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
