"""Churn signals: churn_signals.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04 00:00:00

A new table only, so the same operations run on SQLite and PostgreSQL without batch mode. Names follow
cs_backend.db.NAMING_CONVENTION, given in full with op.f() as in 0001.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "churn_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(200), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_churn_signals")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_churn_signals_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_churn_signals_conversation_id_conversations"),
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_churn_signals_idempotency_key")),
        sa.CheckConstraint(
            "kind IN ('cancel_request', 'downgrade_request', 'negative_feedback')",
            name=op.f("ck_churn_signals_kind"),
        ),
        sa.CheckConstraint(
            "outcome IN ('retained', 'cancelling', 'open')", name=op.f("ck_churn_signals_outcome")
        ),
    )
    op.create_index(op.f("ix_churn_signals_conversation_id"), "churn_signals", ["conversation_id"])
    op.create_index(
        op.f("ix_churn_signals_customer_id_created_at"), "churn_signals", ["customer_id", "created_at"]
    )
    op.create_index(op.f("ix_churn_signals_created_at_id"), "churn_signals", ["created_at", "id"])


def downgrade() -> None:
    op.drop_table("churn_signals")
