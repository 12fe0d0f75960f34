"""The canned_responses table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, utcnow


class CannedResponse(Base):
    __tablename__ = "canned_responses"
    __table_args__ = (CheckConstraint("shortcut = lower(shortcut)", name="shortcut_lower_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    # Lower-case, what the agent types after "/" ("refund"); one response per shortcut.
    shortcut: Mapped[str] = mapped_column(String(50), unique=True)
    text: Mapped[str] = mapped_column(Text)
    # ISO 639 code of the text ("en", "zh"), as the handoffs' language.
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
