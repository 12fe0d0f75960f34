"""The customer_identities, identity_link_codes and identity_link_events tables."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, one_of, utcnow

# website: the site's own user id, proven by its HMAC (userHash); slack, telegram: the platform user id, which
# is the conversation's sender_id on that channel.
IdentityKind = Literal["website", "slack", "telegram"]
CodeKind = Literal["code", "deep_link"]
# linked: a channel identity joined a customer (by a code); bound: a website user id verified in a chat;
# merged: an anonymous customer folded into the verified one; unlinked: undone; refused: a wrong or
# expired code (counted for the rate of tries).
LinkEventAction = Literal["linked", "bound", "merged", "unlinked", "refused"]

_ACTIVE = text("unlinked_at IS NULL")


class CustomerIdentity(Base):
    """An external identity of a customer. At most one active row per (kind, external_id): an identity stands
    for one customer at a time; an unlinked row stays for the audit."""

    __tablename__ = "customer_identities"
    __table_args__ = (
        one_of("kind", IdentityKind),
        Index(
            "uq_customer_identities_active",
            "kind",
            "external_id",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LinkCode(Base):
    """A one-time secret that links a chat identity to the customer who asked for it: a 6-digit code typed in
    the chat, or the token of a Telegram deep link. Only its SHA-256 is stored."""

    __tablename__ = "identity_link_codes"
    __table_args__ = (one_of("kind", CodeKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LinkEvent(Base):
    """The audit of identities: who was linked, bound, merged or unlinked, when, by which code and by whom."""

    __tablename__ = "identity_link_events"
    __table_args__ = (
        one_of("action", LinkEventAction),
        Index("ix_identity_link_events_kind_external_id_at", "kind", "external_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null for a refused code (no customer is known). A customer's deletion deletes their audit with them
    # (privacy), like their other rows.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(200))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("customer_identities.id", ondelete="SET NULL"))
    link_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_link_codes.id", ondelete="SET NULL")
    )
    # merged: the anonymous customer that was folded in (gone by now, so no foreign key).
    merged_customer_id: Mapped[int | None] = mapped_column()
    # Who did it: "customer" (in the chat, or the website user), "service", or "agent:<account id>".
    actor: Mapped[str] = mapped_column(String(50))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
