"""Newest-first pages of a filtered query: the one way every list endpoint counts, orders and slices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from cs_backend.db import Database

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


async def fetch_page(
    db: Database, statement: Select[Any], *order_by: Any, limit: int, offset: int
) -> Page[Any]:
    """Count what `statement` selects, then return rows [offset, offset + limit) in `order_by` order."""
    async with db.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = await session.scalars(statement.order_by(*order_by).limit(limit).offset(offset))
        items = list(rows)
    return Page(items=items, total=total or 0, limit=limit, offset=offset)
