"""The segment_runs table: one row per recompute, the segments it found."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, utcnow


class SegmentRun(Base):
    __tablename__ = "segment_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    customers: Mapped[int]  # customers clustered
    # [{name, description, size, centroid: {feature: value}}], largest first. Aggregates only: no customer id.
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
