"""The churn_signals table."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.api.idempotency import FINGERPRINT_LENGTH
from cs_backend.db import Base, UTCDateTime, one_of, utcnow

Kind = Literal["cancel_request", "downgrade_request", "negative_feedback"]
# retained: the customer took the retention offer; cancelling: they still leave; open: nothing decided yet.
Outcome = Literal["retained", "cancelling", "open"]


class ChurnSignal(Base):
    __tablename__ = "churn_signals"
    __table_args__ = (
        one_of("kind", Kind),
        one_of("outcome", Outcome),
        Index("ix_churn_signals_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_churn_signals_created_at_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Deleted with the customer; a signal of another customer heard in a deleted conversation stays.
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # The SHA-256 of the request first sent with the key (api/idempotency.py): the key reused with another
    # request is refused (422). Null on rows from before migration 0010: any request with their key gets them.
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(FINGERPRINT_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
