"""Live handoff: handoff_messages (the transcript); handoff_requests gain what the customer is told (closed as
unavailable, when the team reopens, the ticket carrying the packet, the last queue position told);
feedback gains the agent and the handoff a rating is about.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 00:00:00

SQLite cannot add a foreign key to a table, so batch mode recreates handoff_requests and feedback (reflected:
copy, drop, rename), with foreign keys off as in 0006; `PRAGMA foreign_key_check` proves nothing was broken.
PostgreSQL gets plain ALTER TABLE statements.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sqlite_foreign_keys_off() -> bool:
    """On SQLite, turn foreign keys off for the table rebuilds; True if they must be turned back on."""
    context = op.get_context()
    if context.dialect.name != "sqlite":
        return False
    if context.as_sql:
        op.execute("PRAGMA foreign_keys=OFF")
        return False
    bind = op.get_bind()
    if not bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        return False
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        # A transaction opened by an earlier revision of this run ignores the pragma: commit it (see 0002).
        bind.exec_driver_sql("COMMIT")
        bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
        if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
            raise RuntimeError("migration 0008 could not turn SQLite's foreign keys off to rebuild tables")
    return True


def _sqlite_check_and_restore(restore: bool) -> None:
    if op.get_context().as_sql and op.get_context().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys=ON")
        return
    if not restore:
        return
    bind = op.get_bind()
    problems = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise RuntimeError(f"migration 0008 left foreign key violations: {problems[:5]}")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    restore = _sqlite_foreign_keys_off()
    with op.batch_alter_table("handoff_requests") as batch:
        batch.add_column(sa.Column("unavailable", sa.String(16), nullable=True))
        batch.add_column(sa.Column("reopens_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ticket_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("told_position", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("told_position_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            "fk_handoff_requests_ticket_id_tickets", "tickets", ["ticket_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_check_constraint(
            op.f("ck_handoff_requests_unavailable"), "unavailable IN ('no_agent', 'closed')"
        )
        batch.create_index("ix_handoff_requests_ticket_id", ["ticket_id"])
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("handoff_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_feedback_agent_id_accounts", "accounts", ["agent_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_foreign_key(
            "fk_feedback_handoff_id_handoff_requests",
            "handoff_requests",
            ["handoff_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_feedback_agent_id", ["agent_id"])
        batch.create_index("ix_feedback_handoff_id", ["handoff_id"])
    op.create_table(
        "handoff_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(200), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("delivery", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_messages")),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoff_requests.id"],
            name=op.f("fk_handoff_messages_handoff_id_handoff_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["accounts.id"],
            name=op.f("fk_handoff_messages_author_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint(
            "handoff_id", "kind", "external_id", name=op.f("uq_handoff_messages_handoff_id_kind_external_id")
        ),
        sa.CheckConstraint(
            "kind IN ('customer', 'agent', 'note', 'system')", name=op.f("ck_handoff_messages_kind")
        ),
        sa.CheckConstraint("delivery IN ('delivered', 'failed')", name=op.f("ck_handoff_messages_delivery")),
    )
    op.create_index(op.f("ix_handoff_messages_handoff_id"), "handoff_messages", ["handoff_id"])
    op.create_index(op.f("ix_handoff_messages_author_id"), "handoff_messages", ["author_id"])
    _sqlite_check_and_restore(restore)


def downgrade() -> None:
    restore = _sqlite_foreign_keys_off()
    op.drop_table("handoff_messages")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index(op.f("ix_feedback_handoff_id"))
        batch.drop_index(op.f("ix_feedback_agent_id"))
        batch.drop_constraint(op.f("fk_feedback_handoff_id_handoff_requests"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_feedback_agent_id_accounts"), type_="foreignkey")
        batch.drop_column("handoff_id")
        batch.drop_column("agent_id")
    with op.batch_alter_table("handoff_requests") as batch:
        batch.drop_index(op.f("ix_handoff_requests_ticket_id"))
        batch.drop_constraint(op.f("ck_handoff_requests_unavailable"), type_="check")
        batch.drop_constraint(op.f("fk_handoff_requests_ticket_id_tickets"), type_="foreignkey")
        for column in ("told_position_at", "told_position", "ticket_id", "reopens_at", "unavailable"):
            batch.drop_column(column)
    _sqlite_check_and_restore(restore)
