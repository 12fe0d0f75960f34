"""Newest-first pages of a filtered query: the one way every list endpoint filters, counts, orders and
slices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import QueryableAttribute

from cs_backend.db import Database

T = TypeVar("T")
SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def where_given(statement: SelectT, *filters: tuple[QueryableAttribute[Any], object]) -> SelectT:
    """`statement` narrowed by each (column, value) filter whose value was given: None means the query
    string did not ask for that filter."""
    for column, value in filters:
        if value is not None:
            statement = statement.where(column == value)
    return statement


async def fetch_page(
    db: Database, statement: Select[Any], *order_by: Any, limit: int, offset: int
) -> Page[Any]:
    """Count what `statement` selects, then return rows [offset, offset + limit) in `order_by` order."""
    async with db.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = await session.scalars(statement.order_by(*order_by).limit(limit).offset(offset))
        items = list(rows)
    return Page(items=items, total=total or 0, limit=limit, offset=offset)
