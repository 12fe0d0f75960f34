"""Tables of the outcomes domain: decided outcomes, open sessions' state, the SQL event broker's cursor, the
keys of the events already applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, one_of, utcnow

# How a conversation session ended (outcomes/classifier.py decides which).
Outcome = Literal["ticket_created", "escalated", "resolved_by_bot", "abandoned"]

# Rasa's own limit for sender ids (the SQL broker's `events.sender_id` is VARCHAR(255)).
SENDER_ID_LENGTH = 255
CHANNEL_LENGTH = 50


class ConversationOutcome(Base):
    """One decided conversation session; written once, never updated."""

    __tablename__ = "conversation_outcomes"
    __table_args__ = (
        one_of("outcome", Outcome),
        # The session's identity: deciding it again (a replayed event, a restart) inserts nothing.
        UniqueConstraint("sender_id", "session_started_at"),
        # Lists are newest first (by the session's end).
        Index("ix_conversation_outcomes_ended_at_id", "ended_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(SENDER_ID_LENGTH))
    channel: Mapped[str] = mapped_column(String(CHANNEL_LENGTH), index=True)
    session_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    intents: Mapped[list[str]] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutcomeSession(Base):
    """The classifier's state of one conversation whose current session is not decided yet.

    `state` is classifier.ConversationState.to_json(); `idle_since` (the last customer message, or the
    session's start) is a column so that finding the sessions idle past the threshold is one indexed query.
    The row is deleted when its session is decided by the idle check.
    """

    __tablename__ = "outcome_sessions"

    sender_id: Mapped[str] = mapped_column(String(SENDER_ID_LENGTH), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutcomeCursor(Base):
    """How far an SQL event source has been read: the id of the last `events` row consumed.

    Advanced in the same transaction as the outcomes and states those events produced, so a restart neither
    loses nor double-counts events. `pending_gaps` are the ids below the cursor not seen yet (rows whose
    transaction may still commit: several Rasa processes on PostgreSQL); `first_event_id`/`first_event_digest`
    fingerprint the table's first row, to recognise a recreated table (outcomes/sources.py).
    """

    __tablename__ = "outcome_cursors"

    # "sql:" + the events database URL (password hidden): another events database has its own cursor.
    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    # [[id, unix time first missed], ...], oldest id first.
    pending_gaps: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    first_event_id: Mapped[int | None] = mapped_column(BigInteger)
    first_event_digest: Mapped[str | None] = mapped_column(String(64))
    # Incremented by every commit: the conditional update that refuses a stale batch (a second consumer).
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProcessedOutcomeEvent(Base):
    """The digest of a RabbitMQ message already applied: its redelivery (an ack lost to a crash) is skipped,
    however many messages were in flight and whether or not its session is still open.

    Written in the transaction that applies the message; kept PROCESSED_EVENT_DAYS (outcomes/consumer.py).
    """

    __tablename__ = "outcome_processed_events"

    event_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
