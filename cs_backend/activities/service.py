"""Customer activities: idempotent recording."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.activities.models import CustomerActivity
from cs_backend.activities.schemas import ActivityCreate
from cs_backend.api.errors import NotFound
from cs_backend.api.idempotency import IdempotencyKey
from cs_backend.customers.models import Customer
from cs_backend.db import Database, create_once, utcnow


async def record_activity(
    db: Database, customer_id: int, data: ActivityCreate, idempotency_key: IdempotencyKey | None
) -> tuple[CustomerActivity, bool]:
    """Returns (activity, created); with a key seen before, (the activity first recorded with it, False)."""

    async def build(session: AsyncSession) -> CustomerActivity:
        if await session.get(Customer, customer_id) is None:
            raise NotFound(f"customer {customer_id} not found")
        now = utcnow()
        return CustomerActivity(
            customer_id=customer_id,
            kind=data.kind,
            occurred_at=data.occurred_at or now,
            amount_cents=data.amount_cents,
            currency=data.currency,
            created_at=now,
        )

    return await create_once(db, CustomerActivity, idempotency_key, build)
