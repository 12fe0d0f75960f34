"""The follow_up_tasks and alert_deliveries tables."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, one_of, utcnow

Kind = Literal["health_red", "negative_feedback"]
Status = Literal["open", "done"]
DeliveryState = Literal["pending", "delivered", "dead"]


class FollowUpTask(Base):
    """Something a person should follow up on, raised by an alert."""

    __tablename__ = "follow_up_tasks"
    __table_args__ = (
        one_of("kind", Kind),
        one_of("status", Status),
        # What raised it (e.g. "feedback:12", "health:7:2026-11-30T12:00:00+00:00"): raising the same alert
        # again (a retry, a replayed signal) finds this task instead of opening a second one.
        UniqueConstraint("kind", "source_ref"),
        Index("ix_follow_up_tasks_status_created_at_id", "status", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    source_ref: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)


class AlertDelivery(Base):
    """One alert waiting for (or done with) delivery to the webhook: the body is fixed when the alert is
    raised, so every attempt sends the same bytes (and the receiver can deduplicate by delivery id)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        one_of("state", DeliveryState),
        # The delivery job reads the pending rows that are due.
        Index("ix_alert_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("follow_up_tasks.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
