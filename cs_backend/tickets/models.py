"""The tickets table."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.api.idempotency import FINGERPRINT_LENGTH
from cs_backend.db import Base, UTCDateTime, one_of, utcnow

Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["open", "pending", "resolved", "closed"]


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        one_of("priority", Priority),
        one_of("status", Status),
        # Lists are newest first; this index serves the ORDER BY of every list query.
        Index("ix_tickets_created_at_id", "created_at", "id"),
    )

    # The ticket number customers are told.
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    # Copied from the customer so lists filter and show it without a join; lower-cased.
    email: Mapped[str] = mapped_column(String(254), index=True)
    # A customer's deletion deletes their tickets; a ticket of another customer opened in a deleted
    # conversation stays, without the conversation.
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(50))
    # Unique: a retried POST with the same key finds this row instead of creating a second ticket.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # The SHA-256 of the request first sent with the key (api/idempotency.py): the key reused with another
    # request is refused (422). Null on rows from before migration 0010: any request with their key gets them.
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(FINGERPRINT_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
