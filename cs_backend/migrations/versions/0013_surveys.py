"""Surveys: the surveys table; feedback gains the survey a rating answers (one rating per kind and survey).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 12:00:00

SQLite cannot add a foreign key or a unique constraint to a table, so batch mode recreates feedback
(reflected: copy, drop, rename) with foreign keys off, as 0008 does; PostgreSQL gets plain ALTER TABLE.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sqlite_foreign_keys_off() -> bool:
    """On SQLite, turn foreign keys off for the table rebuild; True if they must be turned back on."""
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
            raise RuntimeError("migration 0013 could not turn SQLite's foreign keys off to rebuild tables")
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
        raise RuntimeError(f"migration 0013 left foreign key violations: {problems[:5]}")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("sender_id", sa.String(200), nullable=True),
        sa.Column("channel", sa.String(50), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("delivery_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_surveys_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_surveys_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "trigger IN ('ticket_resolved', 'handoff_ended', 'onboarding_completed')",
            name=op.f("ck_surveys_trigger"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'answered', 'suppressed', 'abandoned')",
            name=op.f("ck_surveys_state"),
        ),
        sa.UniqueConstraint("trigger", "subject_id", name=op.f("uq_surveys_trigger_subject_id")),
    )
    op.create_index("ix_surveys_customer_id_created_at", "surveys", ["customer_id", "created_at"])
    op.create_index("ix_surveys_state_next_attempt_at", "surveys", ["state", "next_attempt_at"])
    op.create_index(op.f("ix_surveys_conversation_id"), "surveys", ["conversation_id"])

    restore = _sqlite_foreign_keys_off()
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("survey_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_feedback_survey_id_surveys", "surveys", ["survey_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_unique_constraint("uq_feedback_survey_id_kind", ["survey_id", "kind"])
    _sqlite_check_and_restore(restore)


def downgrade() -> None:
    restore = _sqlite_foreign_keys_off()
    with op.batch_alter_table("feedback") as batch:
        batch.drop_constraint("uq_feedback_survey_id_kind", type_="unique")
        batch.drop_constraint("fk_feedback_survey_id_surveys", type_="foreignkey")
        batch.drop_column("survey_id")
    _sqlite_check_and_restore(restore)
    op.drop_index(op.f("ix_surveys_conversation_id"), table_name="surveys")
    op.drop_index("ix_surveys_state_next_attempt_at", table_name="surveys")
    op.drop_index("ix_surveys_customer_id_created_at", table_name="surveys")
    op.drop_table("surveys")
