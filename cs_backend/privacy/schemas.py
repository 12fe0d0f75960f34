"""Response bodies of a customer's export and deletion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from cs_backend.api.types import ResponseModel


class Transcript(ResponseModel):
    sender_id: str
    channel: str
    tracker: dict[str, Any] = Field(description="Rasa's tracker of the conversation, with every event.")
    events: list[Any] = Field(description="The conversation's events in the event store (Rasa's SQL broker).")


class CustomerExport(ResponseModel):
    customer_id: int
    exported_at: datetime
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="Every cs_backend row of the customer, by table: the customer, the rows tied to theirs "
        "by a foreign key that deletes with them, and the rows of their conversations' sender ids."
    )
    transcripts: list[Transcript]


class CustomerDeletionOut(ResponseModel):
    id: int = Field(description="The deletion's record (customer_deletions).")
    customer_id: int
    rows_deleted: int = Field(description="cs_backend rows deleted.")
    trackers_emptied: int = Field(description="Rasa trackers emptied (one per conversation).")
    events_deleted: int = Field(description="Rows deleted from the event store.")
    deleted_at: datetime
