"""UTC days in SQL and back: the one place the analytics queries differ between SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func
from sqlalchemy.ext.asyncio import AsyncSession


def utc_day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, in SQL (SQLite stores naive UTC text; PostgreSQL
    timestamptz, shifted to UTC before the cast so the server's time zone cannot move a day)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def as_date(value: date | str) -> date:
    """A day as the database answers it (a date on PostgreSQL, 'YYYY-MM-DD' text on SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)
