"""Learning loop: nlu_review_messages, nlu_review_watches.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 00:00:00

New tables only, so the same operations run on SQLite and PostgreSQL without batch mode. Names follow
cs_backend.db.NAMING_CONVENTION, given in full with op.f() as in 0001.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nlu_review_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("message_key", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("predicted_intent", sa.String(length=200), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("said_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('fallback', 'something_else', 'human_after_fallback', 'low_rating')",
            name=op.f("ck_nlu_review_messages_reason"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_review_messages")),
        sa.UniqueConstraint(
            "sender_id",
            "message_key",
            "reason",
            name=op.f("uq_nlu_review_messages_sender_id_message_key_reason"),
        ),
    )
    op.create_index(
        op.f("ix_nlu_review_messages_said_at_id"), "nlu_review_messages", ["said_at", "id"], unique=False
    )
    op.create_table(
        "nlu_review_watches",
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_nlu_review_watches")),
    )
    op.create_index(
        op.f("ix_nlu_review_watches_updated_at"), "nlu_review_watches", ["updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_nlu_review_watches_updated_at"), table_name="nlu_review_watches")
    op.drop_table("nlu_review_watches")
    op.drop_index(op.f("ix_nlu_review_messages_said_at_id"), table_name="nlu_review_messages")
    op.drop_table("nlu_review_messages")
