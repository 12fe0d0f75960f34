"""Privacy: foreign keys that make a customer's deletion complete; customer_deletions.

Revision ID: 0006
Revises: 0005
Create Date: 2025-01-06 00:00:00

Deleting a customer deletes, through ON DELETE CASCADE, their conversations, tickets, onboarding progress and
nudges and churn signals, and the ratings given on those tickets or in those conversations; a row of another
customer that only mentions a deleted conversation (a ticket or a churn signal opened in it) keeps its row and
loses the link (ON DELETE SET NULL). The foreign keys are dropped and created again with these rules.

SQLite cannot alter a foreign key, so batch mode recreates each table (reflected: copy, drop, rename), with
foreign keys off as in 0002: dropping a table that other rows reference fails while they are enforced.
`PRAGMA foreign_key_check` proves nothing was broken before the end.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referred table, ON DELETE from this revision on)
FOREIGN_KEYS = [
    ("conversations", "customer_id", "customers", "CASCADE"),
    ("tickets", "customer_id", "customers", "CASCADE"),
    ("tickets", "conversation_id", "conversations", "SET NULL"),
    ("feedback", "ticket_id", "tickets", "CASCADE"),
    ("feedback", "conversation_id", "conversations", "CASCADE"),
    ("onboarding_progress", "customer_id", "customers", "CASCADE"),
    ("onboarding_nudges", "customer_id", "customers", "CASCADE"),
    ("onboarding_nudges", "conversation_id", "conversations", "CASCADE"),
    ("churn_signals", "customer_id", "customers", "CASCADE"),
    ("churn_signals", "conversation_id", "conversations", "SET NULL"),
]


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
            raise RuntimeError("migration 0006 could not turn SQLite's foreign keys off to rebuild tables")
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
        raise RuntimeError(f"migration 0006 left foreign key violations: {problems[:5]}")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")


def _set_on_delete(with_rules: bool) -> None:
    tables = dict.fromkeys(table for table, *_ in FOREIGN_KEYS)
    for table in tables:
        with op.batch_alter_table(table) as batch:
            for fk_table, column, referred, on_delete in FOREIGN_KEYS:
                if fk_table != table:
                    continue
                name = f"fk_{table}_{column}_{referred}"
                batch.drop_constraint(name, type_="foreignkey")
                batch.create_foreign_key(
                    name, referred, [column], ["id"], ondelete=on_delete if with_rules else None
                )


def upgrade() -> None:
    restore = _sqlite_foreign_keys_off()
    _set_on_delete(with_rules=True)
    op.create_table(
        "customer_deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_deleted", sa.Integer(), nullable=False),
        sa.Column("trackers_emptied", sa.Integer(), nullable=False),
        sa.Column("events_deleted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_deletions")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_customer_deletions_account_id_accounts"),
            ondelete="SET NULL",
        ),
    )
    op.create_index(op.f("ix_customer_deletions_customer_id"), "customer_deletions", ["customer_id"])
    op.create_index(op.f("ix_customer_deletions_account_id"), "customer_deletions", ["account_id"])
    _sqlite_check_and_restore(restore)


def downgrade() -> None:
    restore = _sqlite_foreign_keys_off()
    op.drop_table("customer_deletions")
    _set_on_delete(with_rules=False)
    _sqlite_check_and_restore(restore)
