"""Tables of the learning loop: the collected messages, and each conversation's watch (what the collector
remembers between events: the last misunderstood message, the last message the bot answered)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Float, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, one_of, utcnow

# Why a message is worth a look (nlu_review/collector.py decides):
# - fallback: NLU confidence too low (nlu_fallback);
# - something_else: after "Did you mean…?" the customer chose "Something else" (none of the guesses);
# - human_after_fallback: the customer asked for a person right after a misunderstanding;
# - low_rating: a CSAT of 1 or 2 given right after the bot answered the message.
Reason = Literal["fallback", "something_else", "human_after_fallback", "low_rating"]

SENDER_ID_LENGTH = 255
CHANNEL_LENGTH = 50
INTENT_LENGTH = 200
MESSAGE_KEY_LENGTH = 100
# Rasa accepts long messages; a review needs the gist, and the export one line per example.
TEXT_LENGTH = 2000


class MisunderstoodMessage(Base):
    """One customer message, for one reason; its text redacted (log_redaction) before it is stored.

    Unique on (sender_id, message_key, reason): an event applied twice, or a reason found twice, stores one
    row. The table names a sender id, so a customer's export and deletion include it (privacy/service.py)."""

    __tablename__ = "nlu_review_messages"
    __table_args__ = (
        one_of("reason", Reason),
        UniqueConstraint("sender_id", "message_key", "reason"),
        Index("ix_nlu_review_messages_said_at_id", "said_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(SENDER_ID_LENGTH))
    channel: Mapped[str] = mapped_column(String(CHANNEL_LENGTH))
    # Rasa's message_id, else the message's timestamp: which message of the conversation it was.
    message_key: Mapped[str] = mapped_column(String(MESSAGE_KEY_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    # The best real intent NLU found (below nlu_fallback when it fell back), the suggestion of the export.
    predicted_intent: Mapped[str | None] = mapped_column(String(INTENT_LENGTH))
    confidence: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(30))
    said_at: Mapped[datetime] = mapped_column(UTCDateTime())
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReviewWatch(Base):
    """What the collector remembers of one conversation between events (collector.Watch.to_json()); the row
    goes when there is nothing left to remember."""

    __tablename__ = "nlu_review_watches"

    sender_id: Mapped[str] = mapped_column(String(SENDER_ID_LENGTH), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
