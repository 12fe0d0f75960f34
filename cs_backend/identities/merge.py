"""Folding an anonymous customer into the customer a conversation turns out to belong to.

Every table that refers to customers is moved over, found from the models' metadata so a table added later
is not forgotten (one with a unique key on customer_id that is not handled below fails the merge loudly, and
nothing is half-moved: it all runs in the caller's transaction). Per-step rows the target already has
(onboarding steps, nudges) are dropped from the source, so the target keeps the union, the most advanced
progress, without duplicates; the source's current health score goes (the target's is rescored).
"""

from __future__ import annotations

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.customers.models import Customer
from cs_backend.db import Base

# Tables with one row per (customer_id, step_key): the target's row wins.
_PER_STEP_TABLES = ("onboarding_progress", "onboarding_nudges")
# One row per customer, derived from the rest: the source's is dropped.
_DERIVED_TABLES = ("health_scores",)


def _tables_referring_to_customers() -> list[Table]:
    customers = Customer.__table__
    return [
        table
        for table in Base.metadata.sorted_tables
        if table is not customers
        and "customer_id" in table.c
        and any(fk.column.table is customers for fk in table.c.customer_id.foreign_keys)
    ]


async def merge_customers(session: AsyncSession, source_id: int, target_id: int) -> None:
    """Move everything of customer `source_id` to `target_id`, then delete the source."""
    if source_id == target_id:
        return
    for table in _tables_referring_to_customers():
        column = table.c.customer_id
        if table.name in _DERIVED_TABLES:
            await session.execute(delete(table).where(column == source_id))
            continue
        if table.name in _PER_STEP_TABLES:
            targets_steps = select(table.c.step_key).where(column == target_id)
            await session.execute(
                delete(table).where(column == source_id, table.c.step_key.in_(targets_steps))
            )
        await session.execute(update(table).where(column == source_id).values(customer_id=target_id))
    await session.execute(delete(Customer).where(Customer.id == source_id))
    await session.flush()
