"""The accounts table (agents and admins) and account_sessions (their signed-in sessions)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cs_backend.db import Base, UTCDateTime, one_of, utcnow

Role = Literal["agent", "admin"]


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        one_of("role", Role),
        # One person is one account whatever the capitalisation they type: stored lower-cased, checked here.
        CheckConstraint("email = lower(email)", name="email_lower_case"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(8))
    # argon2id, in the PHC string format (algorithm, parameters, salt and hash in one string).
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when the account was disabled: it can no longer sign in, and its sessions are gone.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


class AccountSession(Base):
    __tablename__ = "account_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Only the SHA-256 (hex) of the bearer token: a copy of the database does not sign anyone in.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
