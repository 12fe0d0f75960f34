"""A small population of customers of four kinds, written straight into the database at health_rows.NOW:
paying regulars (high revenue), struggling customers (tickets, low ratings, abandoned sessions, churn
signals, some of them cancelling), silent ones (nothing for months) and new ones (joined days ago).
Shared by the segments and churn-export tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from cs_backend.churn.models import ChurnSignal
from cs_backend.db import Database

from .health_rows import CustomerRows, days_ago

PER_KIND = 6


@dataclass
class Population:
    paying: list[int] = field(default_factory=list)
    struggling: list[int] = field(default_factory=list)
    silent: list[int] = field(default_factory=list)
    new: list[int] = field(default_factory=list)
    cancelling: list[int] = field(default_factory=list)  # struggling customers who left anyway

    @property
    def all(self) -> list[int]:
        return self.paying + self.struggling + self.silent + self.new


async def population(db: Database) -> Population:
    made = Population()
    async with db.sessions() as session:
        for i in range(PER_KIND):
            paying = await CustomerRows.create(session, f"paying{i}@example.com", joined_days_ago=300 + i)
            for key in ("sign_up", "verify_email", "complete_profile"):
                paying.step(key, days=250)
            for month in range(6):
                paying.activity("payment", days=5 + 30 * month, amount_cents=49_000 + 1000 * i)
            paying.activity("login", days=1 + i % 3)
            paying.rating("csat", 5, days=10)
            made.paying.append(paying.id)

            struggling = await CustomerRows.create(
                session, f"struggling{i}@example.com", joined_days_ago=150 + i
            )
            struggling.seen(days=2)
            for days in (30, 12, 4):
                await struggling.ticket(days=days)
            struggling.rating("csat", 1, days=6)
            struggling.rating("ces", 2, days=6)
            struggling.handoff(days=5)
            for days in (20, 8):
                struggling.session_outcome("abandoned", days=days + i * 0.1)
            struggling.activity("login", days=3)
            await struggling.flush()
            outcome = "cancelling" if i < 3 else "retained"
            session.add(
                ChurnSignal(
                    customer_id=struggling.id, kind="cancel_request", outcome=outcome, created_at=days_ago(4)
                )
            )
            made.struggling.append(struggling.id)
            if outcome == "cancelling":
                made.cancelling.append(struggling.id)

            silent = await CustomerRows.create(session, f"silent{i}@example.com", joined_days_ago=400 + i)
            silent.seen(days=120 + 5 * i)
            silent.step("sign_up", days=399)
            made.silent.append(silent.id)

            new = await CustomerRows.create(session, f"new{i}@example.com", joined_days_ago=2 + i)
            new.step("sign_up", days=1)
            new.activity("login", days=1)
            made.new.append(new.id)
        await session.commit()
    return made
