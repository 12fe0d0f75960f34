"""A customer's data, found through the schema itself, exported and deleted.

A customer's conversations are those attached to them and those in which a ticket of theirs was opened: a
typed email does not attach a conversation to that email's customer (tickets/service.py), yet the
conversation holds what was typed about them. The anonymous customer that stands for such a conversation
(customers/identity.py: one per conversation, no email) is theirs too. A customer's rows are these customers,
those conversations, every
row that a foreign key with ON DELETE CASCADE ties to one of these rows (tickets, ratings, onboarding, churn
signals, and whatever such table comes next: the walk reads cs_backend's metadata), and the rows of their
conversations' sender ids in tables that name a sender id without a foreign key (conversation outcomes,
outcome sessions). Rows of other customers that only mention theirs (ON DELETE SET NULL) are not theirs: they
are neither exported nor deleted.

Outside cs_backend: each conversation's tracker in Rasa (and its rows in Rasa's SQL tracker store, which
keeps them when Rasa empties the tracker), and its rows in the SQL event broker's table.

Deletion goes outside in first, because cs_backend's rows are what finds the rest: (1) Rasa empties each
tracker; (2) the tracker store's and the event store's rows go; (3) one transaction deletes the customer (the
foreign keys cascade) and the sender-id rows, and records the deletion. If Rasa or the event store cannot be
reached, the deletion stops there with a 503 that says what was done (nothing, or the trackers emptied), and
cs_backend keeps every row, so asking again finishes it: each step is harmless to repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.api.errors import NotFound, ServiceUnavailable
from cs_backend.conversations.models import Conversation
from cs_backend.customers.models import Customer
from cs_backend.db import Base, Database, utcnow
from cs_backend.privacy.event_store import EventStore, EventStoreUnavailable
from cs_backend.privacy.models import CustomerDeletion
from cs_backend.rasa_client import RasaClient, RasaError
from cs_backend.tickets.models import Ticket

log = logging.getLogger(__name__)

# Tables that hold a Rasa sender id without a foreign key to conversations.
SENDER_ID_COLUMN = "sender_id"


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _cascading_tables() -> list[tuple[Table, str, str]]:
    """(table, column, referred table) of every foreign key to `id` with ON DELETE CASCADE, parents first."""
    found = []
    for table in Base.metadata.sorted_tables:
        for foreign_key in table.foreign_keys:
            on_delete = (foreign_key.ondelete or "").upper()
            if on_delete == "CASCADE" and foreign_key.column.name == "id":
                found.append((table, foreign_key.parent.name, foreign_key.column.table.name))
    return found


def _sender_id_tables() -> list[Table]:
    return [
        table
        for table in Base.metadata.sorted_tables
        if SENDER_ID_COLUMN in table.c and table.name != Conversation.__tablename__
    ]


async def customer_rows(
    session: AsyncSession, customer_ids: Sequence[int], sender_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every row of the customer, by table name (tables without any are left out)."""
    customers = Base.metadata.tables[Customer.__tablename__]
    rows: dict[str, list[dict[str, Any]]] = {}
    # The primary keys kept per table (a row reached twice is kept once), and the `id`s foreign keys refer to.
    keys: dict[str, set[tuple[Any, ...]]] = {}
    ids: dict[str, set[Any]] = {}

    def keep(table: Table, found: Sequence[Any]) -> None:
        for row in found:
            mapping = dict(row._mapping)
            key = tuple(mapping[column.name] for column in table.primary_key.columns)
            if key in keys.setdefault(table.name, set()):
                continue
            keys[table.name].add(key)
            if "id" in mapping:
                ids.setdefault(table.name, set()).add(mapping["id"])
            rows.setdefault(table.name, []).append(
                {name: _jsonable(value) for name, value in mapping.items()}
            )

    found_customers = await session.execute(
        select(customers).where(customers.c.id.in_(list(customer_ids))).order_by(customers.c.id)
    )
    keep(customers, found_customers.all())
    if sender_ids:
        conversations = Base.metadata.tables[Conversation.__tablename__]
        found = await session.execute(
            select(conversations)
            .where(conversations.c[SENDER_ID_COLUMN].in_(list(sender_ids)))
            .order_by(conversations.c.id)
        )
        keep(conversations, found.all())
    for table, column, referred in _cascading_tables():
        parents = ids.get(referred)
        if parents:
            found = await session.execute(
                select(table).where(table.c[column].in_(sorted(parents))).order_by(*table.primary_key.columns)
            )
            keep(table, found.all())
    if sender_ids:
        for table in _sender_id_tables():
            found = await session.execute(
                select(table)
                .where(table.c[SENDER_ID_COLUMN].in_(list(sender_ids)))
                .order_by(*table.primary_key.columns)
            )
            keep(table, found.all())
    return rows


@dataclass(frozen=True)
class _Scope:
    """Whose rows a customer's export or deletion covers (module docstring)."""

    customer_ids: list[int]
    conversations: list[tuple[str, str]]  # (sender_id, channel)

    @property
    def sender_ids(self) -> list[str]:
        return sorted({sender_id for sender_id, _ in self.conversations})


async def _scope_of(session: AsyncSession, customer_id: int) -> _Scope:
    """The customer, their conversations and those conversations' anonymous customers; NotFound for an
    unknown customer."""
    if await session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found")
    of_their_tickets = select(Ticket.conversation_id).where(Ticket.customer_id == customer_id)
    found = await session.execute(
        select(Conversation.sender_id, Conversation.channel, Conversation.customer_id, Customer.email)
        .outerjoin(Customer, Customer.id == Conversation.customer_id)
        .where(or_(Conversation.customer_id == customer_id, Conversation.id.in_(of_their_tickets)))
        .order_by(Conversation.id)
    )
    rows = found.all()
    anonymous = {row.customer_id for row in rows if row.customer_id is not None and row.email is None}
    return _Scope(
        customer_ids=sorted({customer_id} | anonymous),
        conversations=[(row.sender_id, row.channel) for row in rows],
    )


async def export_customer(
    db: Database, rasa: RasaClient, events: EventStore | None, customer_id: int
) -> dict[str, Any]:
    """The customer's rows, and each conversation's Rasa tracker and event-store events.

    503 when Rasa or the event store cannot be read: an export must be complete.
    """
    async with db.sessions() as session:
        scope = await _scope_of(session, customer_id)
        sender_ids = scope.sender_ids
        rows = await customer_rows(session, scope.customer_ids, sender_ids)
    try:
        stored = await events.events_of(sender_ids) if events is not None else {}
    except EventStoreUnavailable as error:
        raise ServiceUnavailable(f"the export is incomplete: {error}; try again") from None
    transcripts = []
    for sender_id, channel in scope.conversations:
        try:
            tracker = await rasa.tracker(sender_id)
        except RasaError as error:
            raise ServiceUnavailable(
                f"the export is incomplete: Rasa's tracker unavailable ({error})"
            ) from None
        transcripts.append(
            {
                "sender_id": sender_id,
                "channel": channel,
                "tracker": tracker,
                "events": stored.get(sender_id, []),
            }
        )
    return {
        "customer_id": customer_id,
        "exported_at": utcnow().isoformat(),
        "tables": rows,
        "transcripts": transcripts,
    }


@dataclass(frozen=True)
class Deletion:
    id: int
    customer_id: int
    rows_deleted: int
    trackers_emptied: int
    events_deleted: int
    deleted_at: datetime


async def delete_customer(
    db: Database,
    rasa: RasaClient,
    events: EventStore | None,
    customer_id: int,
    account_id: int | None,
    tracker_store: EventStore | None = None,
) -> Deletion:
    """Delete everything of the customer (module docstring: the order, and the 503 when a part is out of
    reach) and record who did it. `tracker_store`: the rows of Rasa's SQL tracker store, when it has one."""
    async with db.sessions() as session:
        scope = await _scope_of(session, customer_id)
    sender_ids = scope.sender_ids

    for done, sender_id in enumerate(sender_ids):
        try:
            await rasa.empty_tracker(sender_id)
        except RasaError as error:
            progress = "nothing was deleted" if done == 0 else f"{done} of {len(sender_ids)} trackers emptied"
            raise ServiceUnavailable(
                f"customer {customer_id} not deleted: Rasa could not empty a tracker ({error}); {progress}, "
                "cs_backend and the event store keep everything; try again"
            ) from None
    try:
        # Emptying a tracker through Rasa's API leaves the rows an SQL tracker store already wrote.
        if tracker_store is not None:
            await tracker_store.delete_events_of(sender_ids)
        events_deleted = await events.delete_events_of(sender_ids) if events is not None else 0
    except EventStoreUnavailable as error:
        raise ServiceUnavailable(
            f"customer {customer_id} not deleted: {error}; their {len(sender_ids)} Rasa trackers are "
            "emptied, cs_backend and the event store keep everything else; try again"
        ) from None

    async with db.sessions() as session, session.begin():
        rows = await customer_rows(session, scope.customer_ids, sender_ids)
        if Customer.__tablename__ not in rows:
            raise NotFound(f"customer {customer_id} not found")
        if sender_ids:
            for table in _sender_id_tables():
                await session.execute(delete(table).where(table.c[SENDER_ID_COLUMN].in_(sender_ids)))
            # Their conversations that are not attached to them (the foreign keys cascade from these too).
            await session.execute(delete(Conversation).where(Conversation.sender_id.in_(sender_ids)))
        # The foreign keys cascade to every other row of theirs (migration 0006).
        await session.execute(delete(Customer).where(Customer.id.in_(scope.customer_ids)))
        record = CustomerDeletion(
            customer_id=customer_id,
            account_id=account_id,
            deleted_at=utcnow(),
            rows_deleted=sum(len(table_rows) for table_rows in rows.values()),
            trackers_emptied=len(sender_ids),
            events_deleted=events_deleted,
        )
        session.add(record)
        await session.flush()
        deletion = Deletion(
            id=record.id,
            customer_id=customer_id,
            rows_deleted=record.rows_deleted,
            trackers_emptied=record.trackers_emptied,
            events_deleted=events_deleted,
            deleted_at=record.deleted_at,
        )
    log.info(
        "customer %d deleted by account %s: %d rows, %d trackers emptied, %d events",
        customer_id,
        account_id,
        deletion.rows_deleted,
        deletion.trackers_emptied,
        deletion.events_deleted,
    )
    return deletion
