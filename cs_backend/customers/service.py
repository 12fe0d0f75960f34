"""Customer upsert and lookup."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.customers.models import Customer
from cs_backend.customers.schemas import CustomerCreate
from cs_backend.db import Database, get_or_not_found, run_transaction, utcnow


async def find_or_create_customer(
    session: AsyncSession, email: str, name: str | None = None
) -> tuple[Customer, bool]:
    """The customer of `email` (already lower-cased), created if new; flushes inside the caller's transaction.

    A concurrent creation of the same address makes the flush raise IntegrityError (unique email), which
    db.run_transaction answers by running the whole transaction again.
    """
    customer = await session.scalar(select(Customer).where(Customer.email == email))
    if customer is None:
        customer = Customer(email=email, name=name, created_at=utcnow())
        session.add(customer)
        await session.flush()
        return customer, True
    if name and not customer.name:
        customer.name = name  # fill a gap, never overwrite what the customer told before
    return customer, False


async def upsert_customer(db: Database, data: CustomerCreate) -> tuple[Customer, bool]:
    """Returns (customer, created)."""
    return await run_transaction(
        db.sessions, lambda session: find_or_create_customer(session, data.email, data.name)
    )


async def get_customer(db: Database, customer_id: int) -> Customer:
    return await get_or_not_found(db, Customer, customer_id, "customer")
