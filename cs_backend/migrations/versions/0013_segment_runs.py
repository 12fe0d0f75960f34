"""Segments: segment_runs.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 00:00:00

A new table only, so the same operations run on SQLite and PostgreSQL without batch mode. Names follow
cs_backend.db.NAMING_CONVENTION, given in full with op.f() as in 0001.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segment_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_runs")),
    )
    op.create_index(op.f("ix_segment_runs_computed_at"), "segment_runs", ["computed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_segment_runs_computed_at"), table_name="segment_runs")
    op.drop_table("segment_runs")
