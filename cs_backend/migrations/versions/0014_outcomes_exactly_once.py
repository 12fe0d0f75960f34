"""Outcomes exactly once: outcome_processed_events; gaps, first-row fingerprint, revision of cursors.

Revision ID: 0014
Revises: 0013
Create Date: 2025-01-11 00:00:00

A new table without foreign keys, and columns added in place (nullable, or with a server default for the rows
already there), so the same operations run on SQLite and PostgreSQL without batch mode. A cursor stored before
this revision has no fingerprint: the source then falls back to its former check (ids below the cursor).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outcome_processed_events",
        sa.Column("event_key", sa.String(80), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_key", name=op.f("pk_outcome_processed_events")),
    )
    op.create_index(
        op.f("ix_outcome_processed_events_processed_at"), "outcome_processed_events", ["processed_at"]
    )
    op.add_column(
        "outcome_cursors", sa.Column("pending_gaps", sa.JSON(), nullable=False, server_default="[]")
    )
    op.add_column("outcome_cursors", sa.Column("first_event_id", sa.BigInteger(), nullable=True))
    op.add_column("outcome_cursors", sa.Column("first_event_digest", sa.String(64), nullable=True))
    op.add_column(
        "outcome_cursors", sa.Column("revision", sa.BigInteger(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    for column in ("revision", "first_event_digest", "first_event_id", "pending_gaps"):
        op.drop_column("outcome_cursors", column)
    op.drop_table("outcome_processed_events")
