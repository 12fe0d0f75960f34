"""What was stored, against what each customer was told.

A customer's writes are its ticket (found by its email address, unique to it; its description carries its
marker) and its CSAT and CES ratings (found by its conversation's sender id, unique to it). For each write:

- told it was done (a ticket number, "saved, it will reach the team shortly", "thanks for your feedback"):
  acknowledged; it must be stored exactly once. Not there: lost. There more than once: duplicated (each extra
  row counts). A ticket number told must be the number of the stored ticket.
- told it failed, or told nothing: it may be stored once or not at all; more than once is duplicated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from tests.faults.customers import Customer


@dataclass
class Tally:
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.acknowledged += other.acknowledged
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.problems.extend(other.problems)


def _who(customer: Customer) -> str:
    return f"{customer.marker} ({customer.fault}, {customer.channel_name})"


def _check(tally: Tally, customer: Customer, write: str, acknowledged: bool, stored: int) -> None:
    if acknowledged:
        tally.acknowledged += 1
        if stored == 0:
            tally.lost += 1
            tally.problems.append(f"{_who(customer)}: {write} lost")
    if stored > 1:
        tally.duplicated += stored - 1
        tally.problems.append(f"{_who(customer)}: {write} stored {stored} times")


async def tally_customer(connection: asyncpg.Connection, customer: Customer) -> Tally:
    tally = Tally()
    told = customer.told
    tickets = await connection.fetch(
        "SELECT id, description FROM tickets WHERE email = $1 ORDER BY id", customer.email
    )
    _check(tally, customer, "ticket", told.ticket_acknowledged, len(tickets))
    stored_ids = {row["id"] for row in tickets}
    for number in told.ticket_numbers:
        if number not in stored_ids:
            tally.problems.append(f"{_who(customer)}: told ticket #{number}, stored {sorted(stored_ids)}")
            if tickets:  # a wrong number is as good as lost (not counted twice when nothing was stored)
                tally.lost += 1
    for row in tickets:
        if customer.marker not in row["description"]:
            tally.problems.append(f"{_who(customer)}: ticket {row['id']} lacks its marker")
    ratings = dict(
        await connection.fetch(
            "SELECT f.kind, count(*) FROM feedback f JOIN conversations c ON c.id = f.conversation_id"
            " WHERE c.sender_id = $1 GROUP BY f.kind",
            customer.sender_id,
        )
    )
    for kind in ("csat", "ces"):
        _check(tally, customer, f"{kind} rating", told.rating_acknowledged, int(ratings.get(kind, 0)))
    return tally


async def tally_all(database_url: str, customers: Sequence[Customer]) -> dict[str, Tally]:
    """The tally of each fault's customers, by fault name (in the order the faults ran)."""
    by_fault: dict[str, Tally] = {}
    connection = await asyncpg.connect(database_url)
    try:
        for customer in customers:
            by_fault.setdefault(customer.fault, Tally()).add(await tally_customer(connection, customer))
    finally:
        await connection.close()
    return by_fault
