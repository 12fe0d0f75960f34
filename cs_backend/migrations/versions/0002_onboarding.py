"""Onboarding: onboarding_progress and onboarding_nudges; customers.email becomes nullable.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02 00:00:00

customers.email is nullable from here on: onboarding creates an anonymous customer (no email yet) for a
conversation without one. The unique constraint stays (any number of NULLs is allowed by both databases).

SQLite cannot change a column's nullability, so batch mode recreates `customers` (copy, drop, rename). With
foreign keys enforced (the app's engine turns them on per connection), dropping a table that other rows
reference fails, and `PRAGMA foreign_keys` cannot change inside a transaction: it is switched off before
anything else runs (after committing what earlier revisions of the same run left in an open transaction), and
`PRAGMA foreign_key_check` proves nothing was broken before the end.

Downgrade deletes the anonymous customers (after detaching them from their conversations): the 0001 schema
cannot hold a customer without an email, and what they had (onboarding progress) is dropped with the tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _customers(email_nullable: bool) -> sa.Table:
    """customers as it is before the change: batch mode copies it without reflecting it, which also lets
    `alembic upgrade --sql` write the SQLite script."""
    return sa.Table(
        "customers",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=email_nullable),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("email", name="uq_customers_email"),
    )


def _sqlite_foreign_keys_off(step: str) -> bool:
    """On SQLite, turn foreign key enforcement off for the table rebuild; True if it must be turned back
    on."""
    context = op.get_context()
    if context.dialect.name != "sqlite":
        return False
    if context.as_sql:
        # `alembic upgrade --sql`: the script says it; whoever runs it runs it outside a transaction.
        op.execute("PRAGMA foreign_keys=OFF")
        return False
    bind = op.get_bind()
    if not bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        return False
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        # An earlier step of this run opened a transaction (SQLite's driver begins one at the first data
        # change, e.g. the version stamp of the previous revision), and the pragma is ignored inside it.
        # Commit that work (the schema changes of those steps are committed already: DDL outside such a
        # transaction commits at once) and try again.
        bind.exec_driver_sql("COMMIT")
        bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
        if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
            raise RuntimeError(
                f"migration 0002 ({step}) must rebuild the customers table on SQLite with foreign keys off, "
                "and could not turn them off; run this migration on its own connection"
            )
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
        raise RuntimeError(f"migration 0002 left foreign key violations: {problems[:5]}")
    # Ignored if a transaction is open by now; the migration's connection is closed right after anyway.
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    restore = _sqlite_foreign_keys_off("upgrade")

    with op.batch_alter_table("customers", copy_from=_customers(email_nullable=False)) as batch:
        batch.alter_column("email", existing_type=sa.String(254), nullable=True)

    op.create_table(
        "onboarding_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("step_key", sa.String(50), nullable=False),
        sa.Column("completed_at", _timestamp(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_progress")),
        sa.UniqueConstraint(
            "customer_id", "step_key", name=op.f("uq_onboarding_progress_customer_id_step_key")
        ),
        sa.CheckConstraint("source IN ('customer', 'product')", name=op.f("ck_onboarding_progress_source")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_onboarding_progress_customer_id_customers")
        ),
    )

    op.create_table(
        "onboarding_nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("step_key", sa.String(50), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_nudges")),
        sa.UniqueConstraint(
            "customer_id", "step_key", name=op.f("uq_onboarding_nudges_customer_id_step_key")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_onboarding_nudges_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_onboarding_nudges_conversation_id_conversations"),
        ),
    )
    op.create_index(op.f("ix_onboarding_nudges_conversation_id"), "onboarding_nudges", ["conversation_id"])

    _sqlite_check_and_restore(restore)


def downgrade() -> None:
    restore = _sqlite_foreign_keys_off("downgrade")

    op.drop_table("onboarding_nudges")
    op.drop_table("onboarding_progress")

    anonymous = "SELECT id FROM customers WHERE email IS NULL"
    op.execute(f"UPDATE conversations SET customer_id = NULL WHERE customer_id IN ({anonymous})")
    op.execute("DELETE FROM customers WHERE email IS NULL")
    with op.batch_alter_table("customers", copy_from=_customers(email_nullable=True)) as batch:
        batch.alter_column("email", existing_type=sa.String(254), nullable=False)

    _sqlite_check_and_restore(restore)
