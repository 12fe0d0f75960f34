"""The customer_deletions table: who deleted which customer's data, and when (no personal data)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, utcnow


class CustomerDeletion(Base):
    __tablename__ = "customer_deletions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id the customer had; no foreign key, since the customer is gone.
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    # The admin who asked; kept as NULL if their account is deleted later.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # How much went: cs_backend rows, Rasa trackers emptied, event-store rows.
    rows_deleted: Mapped[int] = mapped_column(Integer)
    trackers_emptied: Mapped[int] = mapped_column(Integer)
    events_deleted: Mapped[int] = mapped_column(Integer)
