"""Identities: customer_identities, identity_link_codes, identity_link_events.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 00:00:00

New tables only, so the same operations run on SQLite and PostgreSQL without batch mode. Names follow
cs_backend.db.NAMING_CONVENTION, given in full with op.f() as in 0001. The partial unique index (one active
identity per kind and external id) is supported by both databases.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = sa.text("unlinked_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "customer_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unlinked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('website', 'slack', 'telegram')", name=op.f("ck_customer_identities_kind")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_identities_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_identities")),
    )
    op.create_index(op.f("ix_customer_identities_customer_id"), "customer_identities", ["customer_id"])
    op.create_index(
        "uq_customer_identities_active",
        "customer_identities",
        ["kind", "external_id"],
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )
    op.create_table(
        "identity_link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('code', 'deep_link')", name=op.f("ck_identity_link_codes_kind")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_identity_link_codes_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_link_codes")),
    )
    op.create_index(op.f("ix_identity_link_codes_customer_id"), "identity_link_codes", ["customer_id"])
    op.create_index(op.f("ix_identity_link_codes_secret_hash"), "identity_link_codes", ["secret_hash"])
    op.create_table(
        "identity_link_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=True),
        sa.Column("link_code_id", sa.Integer(), nullable=True),
        sa.Column("merged_customer_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=50), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('linked', 'bound', 'merged', 'unlinked', 'refused')",
            name=op.f("ck_identity_link_events_action"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_identity_link_events_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["customer_identities.id"],
            name=op.f("fk_identity_link_events_identity_id_customer_identities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["link_code_id"],
            ["identity_link_codes.id"],
            name=op.f("fk_identity_link_events_link_code_id_identity_link_codes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_link_events")),
    )
    op.create_index(op.f("ix_identity_link_events_customer_id"), "identity_link_events", ["customer_id"])
    op.create_index(
        "ix_identity_link_events_kind_external_id_at", "identity_link_events", ["kind", "external_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_identity_link_events_kind_external_id_at", table_name="identity_link_events")
    op.drop_index(op.f("ix_identity_link_events_customer_id"), table_name="identity_link_events")
    op.drop_table("identity_link_events")
    op.drop_index(op.f("ix_identity_link_codes_secret_hash"), table_name="identity_link_codes")
    op.drop_index(op.f("ix_identity_link_codes_customer_id"), table_name="identity_link_codes")
    op.drop_table("identity_link_codes")
    op.drop_index("uq_customer_identities_active", table_name="customer_identities")
    op.drop_index(op.f("ix_customer_identities_customer_id"), table_name="customer_identities")
    op.drop_table("customer_identities")
