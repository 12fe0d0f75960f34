"""Alerts: follow_up_tasks and alert_deliveries.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 00:00:00

New tables only, so the same operations run on SQLite and PostgreSQL without batch mode. Names follow
cs_backend.db.NAMING_CONVENTION, given in full with op.f() as in 0001.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "follow_up_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("source_ref", sa.String(200), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_tasks")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_follow_up_tasks_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["done_by"],
            ["accounts.id"],
            name=op.f("fk_follow_up_tasks_done_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("kind", "source_ref", name=op.f("uq_follow_up_tasks_kind_source_ref")),
        sa.CheckConstraint(
            "kind IN ('health_red', 'negative_feedback')", name=op.f("ck_follow_up_tasks_kind")
        ),
        sa.CheckConstraint("status IN ('open', 'done')", name=op.f("ck_follow_up_tasks_status")),
    )
    op.create_index(op.f("ix_follow_up_tasks_customer_id"), "follow_up_tasks", ["customer_id"])
    op.create_index(op.f("ix_follow_up_tasks_done_by"), "follow_up_tasks", ["done_by"])
    op.create_index(
        op.f("ix_follow_up_tasks_status_created_at_id"), "follow_up_tasks", ["status", "created_at", "id"]
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["follow_up_tasks.id"],
            name=op.f("fk_alert_deliveries_task_id_follow_up_tasks"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'dead')", name=op.f("ck_alert_deliveries_state")
        ),
    )
    op.create_index(op.f("ix_alert_deliveries_task_id"), "alert_deliveries", ["task_id"])
    op.create_index(
        op.f("ix_alert_deliveries_state_next_attempt_at"), "alert_deliveries", ["state", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("alert_deliveries")
    op.drop_table("follow_up_tasks")
