"""The health_scores (each customer's current score) and health_score_history tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, one_of, utcnow

Band = Literal["green", "yellow", "red"]


class HealthScore(Base):
    """A customer's current score, replaced at each rescore (its past is in health_score_history)."""

    __tablename__ = "health_scores"
    __table_args__ = (
        one_of("band", Band),
        CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
        # Lists are lowest score first, optionally within a band.
        Index("ix_health_scores_band_score", "band", "score"),
        Index("ix_health_scores_score_customer_id", "score", "customer_id"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[int]
    band: Mapped[str] = mapped_column(String(8))
    # The top factors: [{name, label, value, points}], biggest effect first.
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Filled when a churn model is active (the churn domain).
    churn_probability: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(64))


class HealthScoreHistory(Base):
    """Every score a customer was given, with why it was computed (the signal, or a batch rescore)."""

    __tablename__ = "health_score_history"
    __table_args__ = (
        one_of("band", Band),
        CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
        Index("ix_health_score_history_customer_id_computed_at", "customer_id", "computed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    score: Mapped[int]
    band: Mapped[str] = mapped_column(String(8))
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # ticket.created, feedback.created, rescore, ...
    reason: Mapped[str] = mapped_column(String(64))
