"""Canned responses: listing, and an admin's creation, change and deletion (one response per shortcut)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.api.errors import Conflict, NotFound
from cs_backend.canned_responses.models import CannedResponse
from cs_backend.canned_responses.schemas import CannedResponseCreate, CannedResponseUpdate
from cs_backend.db import Database, utcnow


def shortcut_taken(shortcut: str) -> Conflict:
    return Conflict(
        f"the shortcut {shortcut!r} is taken", {"shortcut": "another canned response has this shortcut"}
    )


def not_found(response_id: int) -> NotFound:
    return NotFound(f"canned response {response_id} not found")


async def _shortcut_free(session: AsyncSession, shortcut: str, response_id: int | None = None) -> None:
    statement = select(CannedResponse.id).where(CannedResponse.shortcut == shortcut)
    if response_id is not None:
        statement = statement.where(CannedResponse.id != response_id)
    if await session.scalar(statement) is not None:
        raise shortcut_taken(shortcut)


async def _commit(session: AsyncSession, shortcut: str) -> None:
    """Commit; a concurrent request that took the same shortcut in between is the same 409."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise shortcut_taken(shortcut) from None


async def list_responses(db: Database, language: str | None) -> list[CannedResponse]:
    statement = select(CannedResponse).order_by(CannedResponse.shortcut)
    if language is not None:
        statement = statement.where(CannedResponse.language == language)
    async with db.sessions() as session:
        return list(await session.scalars(statement))


async def create_response(db: Database, data: CannedResponseCreate) -> CannedResponse:
    async with db.sessions() as session:
        await _shortcut_free(session, data.shortcut)
        now = utcnow()
        response = CannedResponse(
            title=data.title,
            shortcut=data.shortcut,
            text=data.text,
            language=data.language,
            created_at=now,
            updated_at=now,
        )
        session.add(response)
        await _commit(session, data.shortcut)
        return response


async def update_response(db: Database, response_id: int, change: CannedResponseUpdate) -> CannedResponse:
    async with db.sessions() as session:
        response = await session.get(CannedResponse, response_id)
        if response is None:
            raise not_found(response_id)
        if change.shortcut is not None:
            await _shortcut_free(session, change.shortcut, response_id)
            response.shortcut = change.shortcut
        if change.title is not None:
            response.title = change.title
        if change.text is not None:
            response.text = change.text
        if change.language is not None:
            response.language = change.language
        response.updated_at = utcnow()
        await _commit(session, response.shortcut)
        return response


async def delete_response(db: Database, response_id: int) -> None:
    async with db.sessions() as session:
        response = await session.get(CannedResponse, response_id)
        if response is None:
            raise not_found(response_id)
        await session.delete(response)
        await session.commit()
