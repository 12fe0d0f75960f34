"""Customer health: customer_activities, health_scores, health_score_history.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 00:00:00

New tables only, so the same operations run on SQLite and PostgreSQL without batch mode. Names follow
cs_backend.db.NAMING_CONVENTION, given in full with op.f() as in 0001.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BANDS = "band IN ('green', 'yellow', 'red')"
SCORE_RANGE = "score BETWEEN 0 AND 100"


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["customer_id"], ["customers.id"], name=op.f(f"fk_{table}_customer_id_customers"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "customer_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("idempotency_fingerprint", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_activities")),
        _customer_fk("customer_activities"),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_customer_activities_idempotency_key")),
        sa.CheckConstraint(
            "(amount_cents IS NULL) = (currency IS NULL)",
            name=op.f("ck_customer_activities_amount_with_currency"),
        ),
    )
    op.create_index(
        op.f("ix_customer_activities_customer_id_occurred_at"),
        "customer_activities",
        ["customer_id", "occurred_at"],
    )
    op.create_table(
        "health_scores",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(8), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("churn_probability", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_health_scores")),
        _customer_fk("health_scores"),
        sa.CheckConstraint(BANDS, name=op.f("ck_health_scores_band")),
        sa.CheckConstraint(SCORE_RANGE, name=op.f("ck_health_scores_score_range")),
    )
    op.create_index(op.f("ix_health_scores_band_score"), "health_scores", ["band", "score"])
    op.create_index(op.f("ix_health_scores_score_customer_id"), "health_scores", ["score", "customer_id"])
    op.create_table(
        "health_score_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(8), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_score_history")),
        _customer_fk("health_score_history"),
        sa.CheckConstraint(BANDS, name=op.f("ck_health_score_history_band")),
        sa.CheckConstraint(SCORE_RANGE, name=op.f("ck_health_score_history_score_range")),
    )
    op.create_index(
        op.f("ix_health_score_history_customer_id_computed_at"),
        "health_score_history",
        ["customer_id", "computed_at"],
    )


def downgrade() -> None:
    op.drop_table("health_score_history")
    op.drop_table("health_scores")
    op.drop_table("customer_activities")
