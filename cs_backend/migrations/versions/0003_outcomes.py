"""Conversation outcomes: conversation_outcomes, outcome_sessions, outcome_cursors.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03 00:00:00

New tables only (no foreign keys: a Rasa sender id need not be a cs_backend conversation), so the same
operations run on SQLite and PostgreSQL without batch mode. Names follow cs_backend.db.NAMING_CONVENTION,
given in full with op.f() as in 0001.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conversation_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("session_started_at", _timestamp(), nullable=False),
        sa.Column("ended_at", _timestamp(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("decided_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_outcomes")),
        sa.UniqueConstraint(
            "sender_id",
            "session_started_at",
            name=op.f("uq_conversation_outcomes_sender_id_session_started_at"),
        ),
        sa.CheckConstraint(
            "outcome IN ('ticket_created', 'escalated', 'resolved_by_bot', 'abandoned')",
            name=op.f("ck_conversation_outcomes_outcome"),
        ),
    )
    op.create_index(op.f("ix_conversation_outcomes_channel"), "conversation_outcomes", ["channel"])
    op.create_index(op.f("ix_conversation_outcomes_outcome"), "conversation_outcomes", ["outcome"])
    op.create_index(op.f("ix_conversation_outcomes_ended_at_id"), "conversation_outcomes", ["ended_at", "id"])

    op.create_table(
        "outcome_sessions",
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("idle_since", _timestamp(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_outcome_sessions")),
    )
    op.create_index(op.f("ix_outcome_sessions_idle_since"), "outcome_sessions", ["idle_since"])

    op.create_table(
        "outcome_cursors",
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_outcome_cursors")),
    )


def downgrade() -> None:
    op.drop_table("outcome_cursors")
    op.drop_table("outcome_sessions")
    op.drop_table("conversation_outcomes")
