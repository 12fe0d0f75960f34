"""Churn signals: idempotent recording and listing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.api.errors import InvalidRequest
from cs_backend.api.idempotency import IdempotencyKey
from cs_backend.churn.models import ChurnSignal
from cs_backend.churn.schemas import ChurnSignalCreate, ChurnSignalQuery
from cs_backend.conversations.models import Conversation
from cs_backend.customers.identity import (
    Identity,
    identity_errors,
    resolve_customer,
    unknown_customer_in_body,
)
from cs_backend.db import Database, create_once, utcnow
from cs_backend.paging import Page, fetch_page, where_given


async def record_signal(
    db: Database, data: ChurnSignalCreate, idempotency_key: IdempotencyKey | None
) -> tuple[ChurnSignal, bool]:
    """Returns (signal, created). With a key seen before: (the signal first recorded with it, False).

    The identity is checked before the database is touched, so a bad request writes nothing.
    """
    identity = Identity(data.customer_id, data.sender_id, data.channel)
    if errors := identity_errors(identity):
        raise InvalidRequest("invalid request body", errors)

    async def build(session: AsyncSession) -> ChurnSignal:
        customer_id = await resolve_customer(
            session,
            identity,
            refresh_conversation=True,
            unknown_customer=unknown_customer_in_body,
        )
        conversation_id = None
        if identity.sender_id is not None:
            conversation_id = await session.scalar(
                select(Conversation.id).where(
                    Conversation.sender_id == identity.sender_id, Conversation.channel == identity.channel
                )
            )
        return ChurnSignal(
            customer_id=customer_id,
            conversation_id=conversation_id,
            kind=data.kind,
            reason=data.reason,
            outcome=data.outcome,
            intent=data.intent,
            created_at=utcnow(),
        )

    return await create_once(db, ChurnSignal, idempotency_key, build)


async def list_signals(db: Database, query: ChurnSignalQuery) -> Page[ChurnSignal]:
    statement = where_given(
        select(ChurnSignal),
        (ChurnSignal.customer_id, query.customer_id),
        (ChurnSignal.kind, query.kind),
        (ChurnSignal.outcome, query.outcome),
    )
    newest_first = (ChurnSignal.created_at.desc(), ChurnSignal.id.desc())
    return await fetch_page(db, statement, *newest_first, limit=query.limit, offset=query.offset)
