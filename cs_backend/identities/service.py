"""Binding a verified website user, link codes, linking a chat identity, unlinking, and the audit.

A conversation (sender_id, channel) stands for its customer (customers/identity.py). Binding or linking
attaches the conversation to the identity's customer; the anonymous customer it had (no email, no identity:
made on its first write) is merged in (merge.py), so its onboarding progress, tickets and ratings follow. A
customer with an email or an identity of their own is someone: their conversation moves, their data stays.
Every change writes an audit row (identity_link_events) in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.api.errors import Conflict, InvalidRequest, NotFound, TooManyRequests
from cs_backend.conversations.models import Conversation
from cs_backend.conversations.service import touch_conversation
from cs_backend.customers.models import Customer
from cs_backend.db import Database, run_transaction
from cs_backend.identities.merge import merge_customers
from cs_backend.identities.models import CustomerIdentity, LinkCode, LinkEvent

CODE_DIGITS = 6
# Chat identities a code can link (their sender_id is the platform user id); the website proves its users
# with userHash instead.
LINKABLE_CHANNELS = ("slack", "telegram")
# Wrong codes a chat identity may type in REFUSED_WINDOW before it must wait (a 6-digit code lives minutes).
MAX_REFUSED_TRIES = 5
REFUSED_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Attachment:
    customer_id: int
    conversation_id: int
    merged_customer_id: int | None


@dataclass(frozen=True)
class IssuedCode:
    code: str
    deep_link_token: str
    expires_at: datetime


@dataclass(frozen=True)
class Linked:
    customer_id: int
    identity_id: int
    conversation_id: int
    merged_customer_id: int | None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def _active_identity(session: AsyncSession, kind: str, external_id: str) -> CustomerIdentity | None:
    return await session.scalar(
        select(CustomerIdentity).where(
            CustomerIdentity.kind == kind,
            CustomerIdentity.external_id == external_id,
            CustomerIdentity.unlinked_at.is_(None),
        )
    )


async def _website_customer(session: AsyncSession, user_id: str, now: datetime) -> int:
    """The customer of a website user id, created (anonymous, with the identity) on first sight. A concurrent
    first sight fails the flush on the active-identity index and run_transaction runs it all again."""
    identity = await _active_identity(session, "website", user_id)
    if identity is not None:
        return identity.customer_id
    customer = Customer(email=None, name=None, created_at=now)
    session.add(customer)
    await session.flush()
    session.add(
        CustomerIdentity(customer_id=customer.id, kind="website", external_id=user_id, created_at=now)
    )
    await session.flush()
    return customer.id


async def _is_anonymous(session: AsyncSession, customer_id: int) -> bool:
    email = await session.scalar(select(Customer.email).where(Customer.id == customer_id))
    identities = await session.scalar(
        select(func.count())
        .select_from(CustomerIdentity)
        .where(CustomerIdentity.customer_id == customer_id, CustomerIdentity.unlinked_at.is_(None))
    )
    return email is None and not identities


async def _attach(
    session: AsyncSession, conversation: Conversation, target_id: int, audit: LinkEvent
) -> int | None:
    """Attach the conversation to `target_id`, merging its anonymous customer in; the merged customer's id.
    A conversation of another identified customer is refused (409): it is not this person's to take."""
    source_id = conversation.customer_id
    if source_id == target_id:
        return None
    merged = None
    if source_id is not None:
        identities = await session.scalar(
            select(func.count())
            .select_from(CustomerIdentity)
            .where(CustomerIdentity.customer_id == source_id, CustomerIdentity.unlinked_at.is_(None))
        )
        if identities:
            raise Conflict(
                "this conversation belongs to another identified customer",
                {"sender_id": "bound to another customer"},
            )
        if await _is_anonymous(session, source_id):
            merged = source_id
    await session.execute(
        update(Conversation).where(Conversation.id == conversation.id).values(customer_id=target_id)
    )
    if merged is not None:
        await merge_customers(session, merged, target_id)
        session.add(
            LinkEvent(
                customer_id=target_id,
                action="merged",
                kind=audit.kind,
                external_id=audit.external_id,
                identity_id=audit.identity_id,
                link_code_id=audit.link_code_id,
                merged_customer_id=merged,
                actor=audit.actor,
                at=audit.at,
            )
        )
    return merged


async def bind_website_user(
    db: Database, user_id: str, sender_id: str, channel: str, now: datetime
) -> Attachment:
    """The conversation (sender_id, channel), whose website user the channel verified, becomes that user's
    customer's (created if new). Idempotent: binding again changes nothing and writes no audit."""

    async def work(session: AsyncSession) -> Attachment:
        customer_id = await _website_customer(session, user_id, now)
        conversation, _ = await touch_conversation(session, sender_id, channel)
        if conversation.customer_id == customer_id:
            return Attachment(customer_id, conversation.id, None)
        identity = await _active_identity(session, "website", user_id)
        audit = LinkEvent(
            customer_id=customer_id,
            action="bound",
            kind="website",
            external_id=user_id,
            identity_id=identity.id if identity is not None else None,
            actor="service",
            at=now,
        )
        merged = await _attach(session, conversation, customer_id, audit)
        session.add(audit)
        await session.flush()
        return Attachment(customer_id, conversation.id, merged)

    return await run_transaction(db.sessions, work)


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


async def issue_link_code(db: Database, user_id: str, lifetime: timedelta, now: datetime) -> IssuedCode:
    """A 6-digit code and a deep-link token for the website user's customer (created if new); both expire
    after `lifetime`, and using one uses neither of the other (each is single use)."""

    async def work(session: AsyncSession) -> IssuedCode:
        customer_id = await _website_customer(session, user_id, now)
        expires_at = now + lifetime
        for _ in range(10):
            code = _new_code()
            taken = await session.scalar(
                select(LinkCode.id).where(
                    LinkCode.secret_hash == secret_hash(code),
                    LinkCode.used_at.is_(None),
                    LinkCode.expires_at > now,
                )
            )
            if taken is None:
                break
        else:  # a million codes live at once: refuse rather than make one ambiguous
            raise TooManyRequests("too many link codes are live; try again in a few minutes", 60)
        token = secrets.token_urlsafe(24)
        for kind, secret in (("code", code), ("deep_link", token)):
            session.add(
                LinkCode(
                    customer_id=customer_id,
                    kind=kind,
                    secret_hash=secret_hash(secret),
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        await session.flush()
        return IssuedCode(code, token, expires_at)

    return await run_transaction(db.sessions, work)


async def _refused_recently(session: AsyncSession, channel: str, sender_id: str, now: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(LinkEvent)
        .where(
            LinkEvent.action == "refused",
            LinkEvent.kind == channel,
            LinkEvent.external_id == sender_id,
            LinkEvent.at > now - REFUSED_WINDOW,
        )
    )
    return int(count or 0)


async def redeem_link_code(db: Database, code: str, sender_id: str, channel: str, now: datetime) -> Linked:
    """Link the chat identity (channel, sender_id) to the customer of a live code, and use the code up.

    A wrong, expired or used code is refused with one answer (404) and audited; after MAX_REFUSED_TRIES in
    REFUSED_WINDOW the identity gets 429 until the window moves on. An identity already linked to this
    customer stays linked (the code is used); linked to another customer: 409 (unlink first).
    """
    if channel not in LINKABLE_CHANNELS:
        raise InvalidRequest(
            f"only {', '.join(LINKABLE_CHANNELS)} identities are linked with a code",
            {"channel": f"one of {', '.join(LINKABLE_CHANNELS)}"},
        )

    async def work(session: AsyncSession) -> Linked | None:
        if await _refused_recently(session, channel, sender_id, now) >= MAX_REFUSED_TRIES:
            raise TooManyRequests(
                "too many wrong link codes from this account; try again later",
                int(REFUSED_WINDOW.total_seconds()),
            )
        link_code = await session.scalar(
            select(LinkCode).where(
                LinkCode.secret_hash == secret_hash(code.strip()),
                LinkCode.used_at.is_(None),
                LinkCode.expires_at > now,
            )
        )
        if link_code is None:
            refused = LinkEvent(
                customer_id=None,
                action="refused",
                kind=channel,
                external_id=sender_id,
                actor="customer",
                at=now,
            )
            session.add(refused)
            return None  # committed, then answered 404
        used = await session.execute(
            update(LinkCode)
            .where(LinkCode.id == link_code.id, LinkCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("this code was just used", {"link_code": "already used"})
        customer_id = link_code.customer_id
        identity = await _active_identity(session, channel, sender_id)
        if identity is not None and identity.customer_id != customer_id:
            raise Conflict(
                f"this {channel} account is linked to another customer; unlink it first",
                {"sender_id": "linked to another customer"},
            )
        if identity is None:
            identity = CustomerIdentity(
                customer_id=customer_id, kind=channel, external_id=sender_id, created_at=now
            )
            session.add(identity)
            await session.flush()
        conversation, _ = await touch_conversation(session, sender_id, channel)
        audit = LinkEvent(
            customer_id=customer_id,
            action="linked",
            kind=channel,
            external_id=sender_id,
            identity_id=identity.id,
            link_code_id=link_code.id,
            actor="customer",
            at=now,
        )
        merged = await _attach(session, conversation, customer_id, audit)
        session.add(audit)
        await session.flush()
        return Linked(customer_id, identity.id, conversation.id, merged)

    linked = await run_transaction(db.sessions, work)
    if linked is None:
        raise NotFound("no such link code, or it expired or was used", {"code": "not a live link code"})
    return linked


async def unlink_identity(db: Database, identity_id: int, actor: str, now: datetime) -> CustomerIdentity:
    """Undo a link: the identity stops standing for its customer, and its chat conversation is detached (its
    next write gets a new anonymous customer). What was written while linked stays the customer's.
    Unlinking an unlinked identity changes nothing."""

    async def work(session: AsyncSession) -> CustomerIdentity:
        identity = await session.get(CustomerIdentity, identity_id)
        if identity is None:
            raise NotFound(f"identity {identity_id} not found")
        if identity.unlinked_at is not None:
            return identity
        identity.unlinked_at = now
        if identity.kind in LINKABLE_CHANNELS:
            await session.execute(
                update(Conversation)
                .where(
                    Conversation.sender_id == identity.external_id,
                    Conversation.channel == identity.kind,
                    Conversation.customer_id == identity.customer_id,
                )
                .values(customer_id=None)
            )
        session.add(
            LinkEvent(
                customer_id=identity.customer_id,
                action="unlinked",
                kind=identity.kind,
                external_id=identity.external_id,
                identity_id=identity.id,
                actor=actor,
                at=now,
            )
        )
        await session.flush()
        return identity

    return await run_transaction(db.sessions, work)


async def website_customer_id(db: Database, user_id: str) -> int | None:
    async with db.sessions() as session:
        identity = await _active_identity(session, "website", user_id)
        return identity.customer_id if identity is not None else None


async def identities_of(db: Database, customer_id: int) -> tuple[list[CustomerIdentity], list[LinkEvent]]:
    """A customer's identities (active and unlinked) and their audit, oldest first."""
    async with db.sessions() as session:
        if await session.get(Customer, customer_id) is None:
            raise NotFound(f"customer {customer_id} not found")
        identities = await session.scalars(
            select(CustomerIdentity)
            .where(CustomerIdentity.customer_id == customer_id)
            .order_by(CustomerIdentity.id)
        )
        events = await session.scalars(
            select(LinkEvent).where(LinkEvent.customer_id == customer_id).order_by(LinkEvent.at, LinkEvent.id)
        )
        return list(identities), list(events)
