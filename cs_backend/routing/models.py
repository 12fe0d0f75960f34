"""The routing tables: teams, agent_profiles (one per agent or admin account that takes handoffs),
handoff_requests (a conversation waiting for, or held by, a person) and sla_breaches."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal, get_args

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.api.idempotency import FINGERPRINT_LENGTH
from cs_backend.db import Base, UTCDateTime, one_of, utcnow

# Highest first: the queue serves urgent first, and an SLA breach moves a handoff one step up.
Priority = Literal["urgent", "high", "normal", "low"]
PRIORITIES: Final[tuple[str, ...]] = get_args(Priority)
AgentStatus = Literal["online", "away", "offline"]
# queued: waiting for an agent; assigned: offered to one agent, not accepted yet; accepted: live with that
# agent; resolved: the agent finished (the bot takes the conversation back); cancelled: no longer wanted.
HandoffState = Literal["queued", "assigned", "accepted", "resolved", "cancelled"]
# Where a handoff comes from (issue 10's triggers).
HandoffReason = Literal["customer_request", "misunderstood", "low_csat", "human_only_category", "health_red"]
# The three SLA timers: offered → accepted, accepted → the agent's first answer, queued → resolved.
SlaKind = Literal["accept", "first_response", "resolution"]
# Why a handoff was closed at once instead of queued: no agent online who could take it, or the team
# outside its business hours.
Unavailable = Literal["no_agent", "closed"]
# A handoff's transcript: the customer's and the agent's messages, the agents' internal notes, and what
# happened (accepted, resolved) as system entries.
MessageKind = Literal["customer", "agent", "note", "system"]
# Of an agent's message: relayed to the customer through Rasa, or not (sent again to retry).
Delivery = Literal["delivered", "failed"]
# States in which a handoff holds one of its agent's capacity slots.
HOLDING_STATES: Final[tuple[str, ...]] = ("assigned", "accepted")
# States a handoff is still routed or handled in (the live state holds these).
ACTIVE_STATES: Final[tuple[str, ...]] = ("queued", "assigned", "accepted")


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # An IANA zone name (Europe/Paris); the business hours are local times of that zone.
    time_zone: Mapped[str] = mapped_column(String(64))
    # [{"weekday": 0-6 (Monday 0), "opens": "HH:MM", "closes": "HH:MM"}, ...]; closes <= opens runs past
    # midnight. Validated by the schemas before it is stored.
    business_hours: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AgentProfile(Base):
    __tablename__ = "agent_profiles"
    __table_args__ = (
        one_of("status", AgentStatus),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
    )

    # One profile per account (agents and admins both may take handoffs).
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    # Lower-case names, sorted and unique ("billing", "technical"); languages are ISO 639 codes ("en", "zh").
    skills: Mapped[list[str]] = mapped_column(JSON)
    languages: Mapped[list[str]] = mapped_column(JSON)
    # Concurrent handoffs (assigned or accepted) the agent can hold.
    capacity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="offline")
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the agent was last offered a handoff: the round robin among equally loaded agents.
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HandoffRequest(Base):
    __tablename__ = "handoff_requests"
    __table_args__ = (
        one_of("priority", Priority),
        one_of("state", HandoffState),
        one_of("reason", HandoffReason),
        one_of("unavailable", Unavailable),
        # The SLA job and the rebuild read the active handoffs by state.
        Index("ix_handoff_requests_state_queued_at", "state", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A customer's deletion takes their handoffs (cs_backend/privacy).
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    # Copied from the conversation so the queue shows them without a join.
    sender_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(50))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(8))
    skill: Mapped[str | None] = mapped_column(String(50))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    priority: Mapped[str] = mapped_column(String(8))
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    high_value: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    # The agent (account id) it is offered to or held by; null while queued and after a return to the queue.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    # Agents who declined it, let an offer lapse or did not answer in time: never offered it again.
    excluded_agent_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Kept when the handoff returns to the queue, so it does not lose its place.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Unique: a retried POST with the same key finds this row instead of queueing the conversation twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # The SHA-256 of the request first sent with the key (api/idempotency.py): the key reused with another
    # request is refused (422). Null on rows from before migration 0010: any request with their key gets them.
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(FINGERPRINT_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Closed at once (state cancelled) because nobody could take it: why, when the team opens again (closed
    # only), and the ticket that carries the packet instead (once an email is known).
    unavailable: Mapped[str | None] = mapped_column(String(16))
    reopens_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    # The queue position the customer was last told, and when: position updates go out only when it changed,
    # at most once per ROUTING_POSITION_UPDATE_SECONDS.
    told_position: Mapped[int | None] = mapped_column(Integer)
    told_position_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HandoffMessage(Base):
    __tablename__ = "handoff_messages"
    __table_args__ = (
        one_of("kind", MessageKind),
        one_of("delivery", Delivery),
        # The same Rasa message id (customer) or client id (agent) stores once per handoff.
        UniqueConstraint("handoff_id", "kind", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A customer's deletion takes their handoffs, and so their transcripts.
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoff_requests.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    # The agent or admin who wrote it (agent messages, notes); null for the customer's and system entries.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    # Their name when they wrote it, so the transcript reads the same after a rename or an account's removal.
    author_name: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    # Rasa's message id of a customer message, the console's client id of an agent message.
    external_id: Mapped[str | None] = mapped_column(String(200))
    # Agent messages only: whether Rasa took it to the customer.
    delivery: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SlaBreach(Base):
    __tablename__ = "sla_breaches"
    __table_args__ = (
        one_of("kind", SlaKind),
        one_of("priority_before", Priority),
        one_of("priority_after", Priority),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoff_requests.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The agent who let the timer run out (null for a resolution breach of a queued handoff).
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    breached_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    priority_before: Mapped[str] = mapped_column(String(8))
    priority_after: Mapped[str] = mapped_column(String(8))
