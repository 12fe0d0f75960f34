"""Idempotency fingerprints: idempotency_fingerprint on tickets, feedback, churn_signals, handoff_requests.

Revision ID: 0010
Revises: 0009
Create Date: 2025-01-10 00:00:00

The SHA-256 (hex) of the request first sent with a row's Idempotency-Key (cs_backend/api/idempotency.py), so
the key reused with a different request is refused (422) instead of answering the first row. Nullable: rows
stored before this revision have no fingerprint and keep answering any request with their key.

A nullable column without a constraint: added and dropped in place on both databases (SQLite has ALTER TABLE
... DROP COLUMN since 3.35), so no table is rebuilt and no foreign key needs turning off.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("tickets", "feedback", "churn_signals", "handoff_requests")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("idempotency_fingerprint", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_column(table, "idempotency_fingerprint")
