"""Initial schema: customers, conversations, tickets, feedback.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00

Written by hand to match cs_backend's models (tests/backend check with Alembic's compare_metadata that they
agree); runs on SQLite and PostgreSQL. Constraint names follow cs_backend.db.NAMING_CONVENTION and are
given in full with op.f(), which tells Alembic not to apply the naming convention to them a second time
(it would turn "ck_tickets_status" into "ck_tickets_ck_tickets_status").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("email", name=op.f("uq_customers_email")),
    )

    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("started_at", _timestamp(), nullable=False),
        sa.Column("last_seen_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("sender_id", "channel", name=op.f("uq_conversations_sender_id_channel")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_conversations_customer_id_customers")
        ),
    )
    op.create_index(op.f("ix_conversations_customer_id"), "conversations", ["customer_id"])

    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_tickets_idempotency_key")),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')", name=op.f("ck_tickets_priority")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'pending', 'resolved', 'closed')", name=op.f("ck_tickets_status")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_tickets_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_tickets_conversation_id_conversations")
        ),
    )
    op.create_index(op.f("ix_tickets_status"), "tickets", ["status"])
    op.create_index(op.f("ix_tickets_email"), "tickets", ["email"])
    op.create_index(op.f("ix_tickets_customer_id"), "tickets", ["customer_id"])
    op.create_index(op.f("ix_tickets_conversation_id"), "tickets", ["conversation_id"])
    op.create_index(op.f("ix_tickets_created_at_id"), "tickets", ["created_at", "id"])

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("intent", sa.String(200), nullable=True),
        sa.Column("resolver", sa.String(8), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_feedback_idempotency_key")),
        sa.CheckConstraint("kind IN ('csat', 'ces')", name=op.f("ck_feedback_kind")),
        sa.CheckConstraint(
            "(kind = 'csat' AND score BETWEEN 1 AND 5) OR (kind = 'ces' AND score BETWEEN 1 AND 7)",
            name=op.f("ck_feedback_score_range"),
        ),
        sa.CheckConstraint("resolver IN ('bot', 'agent')", name=op.f("ck_feedback_resolver")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_feedback_ticket_id_tickets")),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_feedback_conversation_id_conversations")
        ),
    )
    op.create_index(op.f("ix_feedback_kind"), "feedback", ["kind"])
    op.create_index(op.f("ix_feedback_ticket_id"), "feedback", ["ticket_id"])
    op.create_index(op.f("ix_feedback_conversation_id"), "feedback", ["conversation_id"])
    op.create_index(op.f("ix_feedback_created_at_id"), "feedback", ["created_at", "id"])


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints; children before parents for the foreign keys.
    op.drop_table("feedback")
    op.drop_table("tickets")
    op.drop_table("conversations")
    op.drop_table("customers")
