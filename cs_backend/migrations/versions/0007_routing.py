"""Routing: teams, agent_profiles, handoff_requests and sla_breaches.

Revision ID: 0007
Revises: 0006
Create Date: 2025-01-06 00:00:00

New tables only, so the same operations run on SQLite and PostgreSQL without batch mode. Names follow
cs_backend.db.NAMING_CONVENTION, given in full with op.f() as in 0001.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRIORITIES = "'urgent', 'high', 'normal', 'low'"


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("business_hours", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "agent_profiles",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_agent_profiles")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_agent_profiles_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_agent_profiles_team_id_teams"), ondelete="SET NULL"
        ),
        sa.CheckConstraint("status IN ('online', 'away', 'offline')", name=op.f("ck_agent_profiles_status")),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_agent_profiles_capacity_positive")),
    )
    op.create_index(op.f("ix_agent_profiles_team_id"), "agent_profiles", ["team_id"])
    op.create_table(
        "handoff_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("skill", sa.String(50), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("at_risk", sa.Boolean(), nullable=False),
        sa.Column("high_value", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("excluded_agent_ids", sa.JSON(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_requests")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_handoff_requests_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_handoff_requests_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_handoff_requests_team_id_teams"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["accounts.id"],
            name=op.f("fk_handoff_requests_agent_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_handoff_requests_idempotency_key")),
        sa.CheckConstraint(f"priority IN ({PRIORITIES})", name=op.f("ck_handoff_requests_priority")),
        sa.CheckConstraint(
            "state IN ('queued', 'assigned', 'accepted', 'resolved', 'cancelled')",
            name=op.f("ck_handoff_requests_state"),
        ),
        sa.CheckConstraint(
            "reason IN ('customer_request', 'misunderstood', 'low_csat', 'human_only_category', "
            "'health_red')",
            name=op.f("ck_handoff_requests_reason"),
        ),
    )
    for column in ("conversation_id", "customer_id", "team_id", "agent_id"):
        op.create_index(op.f(f"ix_handoff_requests_{column}"), "handoff_requests", [column])
    op.create_index(op.f("ix_handoff_requests_state_queued_at"), "handoff_requests", ["state", "queued_at"])
    op.create_table(
        "sla_breaches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority_before", sa.String(8), nullable=False),
        sa.Column("priority_after", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_breaches")),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoff_requests.id"],
            name=op.f("fk_sla_breaches_handoff_id_handoff_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["accounts.id"], name=op.f("fk_sla_breaches_agent_id_accounts"), ondelete="SET NULL"
        ),
        sa.CheckConstraint(
            "kind IN ('accept', 'first_response', 'resolution')", name=op.f("ck_sla_breaches_kind")
        ),
        sa.CheckConstraint(
            f"priority_before IN ({PRIORITIES})", name=op.f("ck_sla_breaches_priority_before")
        ),
        sa.CheckConstraint(f"priority_after IN ({PRIORITIES})", name=op.f("ck_sla_breaches_priority_after")),
    )
    op.create_index(op.f("ix_sla_breaches_handoff_id"), "sla_breaches", ["handoff_id"])


def downgrade() -> None:
    op.drop_table("sla_breaches")
    op.drop_table("handoff_requests")
    op.drop_table("agent_profiles")
    op.drop_table("teams")
