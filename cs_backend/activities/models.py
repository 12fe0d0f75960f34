"""The customer_activities table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.api.idempotency import FINGERPRINT_LENGTH
from cs_backend.db import Base, UTCDateTime, utcnow

# The kind whose amount counts as revenue (monthly revenue, lifetime value).
PAYMENT = "payment"


class CustomerActivity(Base):
    __tablename__ = "customer_activities"
    __table_args__ = (
        # An amount always comes with its currency, and only then.
        CheckConstraint("(amount_cents IS NULL) = (currency IS NULL)", name="amount_with_currency"),
        # Features read a customer's latest activity and their payments over a window.
        Index("ix_customer_activities_customer_id_occurred_at", "customer_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    # Free text chosen by the product: login, feature_used, payment, ...
    kind: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    amount_cents: Mapped[int | None]
    # ISO 4217 code, upper-case.
    currency: Mapped[str | None] = mapped_column(String(3))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # The SHA-256 of the request first sent with the key (api/idempotency.py): reused with another, 422.
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(FINGERPRINT_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
