"""Accounts and their sessions: creating and changing accounts, signing in and out, resolving a bearer token.

Sign-in failures all give the same answer (`SignInRefused`), whether the email is unknown, the password wrong
or the account disabled, after the same password-hashing work.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from argon2 import PasswordHasher
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.accounts.models import Account, AccountSession, Role
from cs_backend.accounts.passwords import DEFAULT_HASHER, check_password, hash_password, needs_rehash
from cs_backend.accounts.schemas import AccountQuery, AccountUpdate
from cs_backend.api.errors import ApiError, Conflict, NotFound
from cs_backend.db import Database, run_transaction, utcnow
from cs_backend.paging import Page, fetch_page, where_given

# 32 random bytes, URL-safe base64 (43 characters).
TOKEN_BYTES = 32


# argon2 costs 64 MiB and a CPU core per hash, and sign-in is public: at most this many hashes run at once,
# so a flood of sign-ins queues instead of exhausting memory (rate limits are still to come). A thread
# semaphore, taken in the worker thread: it belongs to no event loop.
_HASHING_SLOTS = threading.BoundedSemaphore(2)
T = TypeVar("T")


def _one_slot_at_a_time(work: Callable[..., T], *args: Any) -> T:
    with _HASHING_SLOTS:
        return work(*args)


async def _hashing(work: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(_one_slot_at_a_time, work, *args)


class SignInRefused(ApiError):
    """401: the same message for every reason, so that it does not tell which emails have accounts."""

    status = 401

    def __init__(self) -> None:
        super().__init__("wrong email or password")


class EmailTaken(Conflict):
    def __init__(self) -> None:
        # The email is not repeated: the answer (and the CLI's message) stays free of personal data.
        super().__init__("an account with this email already exists")


@dataclass(frozen=True)
class NewSession:
    token: str
    expires_at: datetime
    role: Role
    account_id: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_account(
    db: Database,
    email: str,
    display_name: str,
    role: Role,
    password: str,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> Account:
    """Raises PasswordTooShort or EmailTaken. `email` is stored lower-cased."""
    email = email.strip().lower()
    password_hash = await _hashing(hash_password, password, hasher)

    async def insert(session: AsyncSession) -> Account:
        if await session.scalar(select(Account.id).where(Account.email == email)) is not None:
            raise EmailTaken
        account = Account(
            email=email,
            display_name=display_name,
            role=role,
            password_hash=password_hash,
            created_at=utcnow(),
        )
        session.add(account)
        await session.flush()
        return account

    # A concurrent insert of the same email fails the unique constraint; the retry then reports EmailTaken.
    return await run_transaction(db.sessions, insert)


async def start_session(db: Database, account: Account, lifetime: timedelta) -> NewSession:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    async with db.sessions() as session:
        row = AccountSession(
            token_hash=token_hash(token), account_id=account.id, created_at=now, expires_at=now + lifetime
        )
        session.add(row)
        await session.commit()
    # The role column holds a Role: the table's CHECK allows nothing else.
    role = cast(Role, account.role)
    return NewSession(token=token, expires_at=row.expires_at, role=role, account_id=account.id)


async def sign_in(
    db: Database, email: str, password: str, lifetime: timedelta, hasher: PasswordHasher = DEFAULT_HASHER
) -> NewSession:
    """A new session for the account, or SignInRefused. Rehashes the password when `hasher`'s parameters
    differ from the stored hash's."""
    async with db.sessions() as session:
        account = await session.scalar(select(Account).where(Account.email == email.strip().lower()))
    stored_hash = account.password_hash if account is not None else None
    matched = await _hashing(check_password, stored_hash, password, hasher)
    if account is None or not matched or account.disabled:
        raise SignInRefused
    if needs_rehash(account.password_hash, hasher):
        new_hash = await _hashing(hasher.hash, password)
        async with db.sessions() as session:
            stored = await session.get(Account, account.id)
            if stored is not None:
                stored.password_hash = new_hash
                await session.commit()
    return await start_session(db, account, lifetime)


async def session_account(db: Database, token: str) -> tuple[AccountSession, Account] | None:
    """The live session of a bearer token and its account; None when unknown, expired, revoked or disabled."""
    statement = (
        select(AccountSession, Account)
        .join(Account, AccountSession.account_id == Account.id)
        .where(
            AccountSession.token_hash == token_hash(token),
            AccountSession.expires_at > utcnow(),
            Account.disabled_at.is_(None),
        )
    )
    async with db.sessions() as session:
        row = (await session.execute(statement)).first()
    return None if row is None else (row[0], row[1])


async def end_session(db: Database, session_id: int) -> None:
    async with db.sessions() as session:
        await session.execute(delete(AccountSession).where(AccountSession.id == session_id))
        await session.commit()


async def list_accounts(db: Database, query: AccountQuery) -> Page[Account]:
    statement = where_given(select(Account), (Account.role, query.role))
    return await fetch_page(db, statement, Account.id, limit=query.limit, offset=query.offset)


async def update_account(
    db: Database, account_id: int, change: AccountUpdate, acting_account_id: int
) -> Account:
    """Changes the role or the disabled state; disabling ends every session of the account. An admin cannot
    disable or demote their own account (so that the last admin cannot lock everyone out by mistake)."""
    async with db.sessions() as session:
        account = await session.get(Account, account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        if account_id == acting_account_id and (change.disabled or change.role not in (None, "admin")):
            raise Conflict("you cannot disable or demote your own account")
        if change.role is not None:
            account.role = change.role
        if change.disabled is True and account.disabled_at is None:
            account.disabled_at = utcnow()
            await session.execute(delete(AccountSession).where(AccountSession.account_id == account_id))
        elif change.disabled is False:
            account.disabled_at = None
        await session.commit()
    return account
