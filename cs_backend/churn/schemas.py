"""Request and response bodies of /api/churn/signals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from cs_backend.api.types import (
    STORABLE,
    ApiModel,
    Channel,
    PageLimit,
    PageOffset,
    QueryModel,
    ResponseModel,
    RowId,
    SenderId,
    trimmed,
)
from cs_backend.churn.models import Kind, Outcome
from cs_backend.customers.identity import IDENTITY_SCHEMA_RULES

Reason = Annotated[str, trimmed(200), STORABLE]
Intent = Annotated[str, trimmed(200), STORABLE]


class ChurnSignalCreate(ApiModel):
    schema_rules = IDENTITY_SCHEMA_RULES

    kind: Kind = Field(description="What the customer asked for or expressed.")
    reason: Reason | None = Field(default=None, description="Why, 1-200 characters (e.g. too_expensive).")
    outcome: Outcome = Field(
        default="open", description="retained (took the offer), cancelling (still leaving) or open (default)."
    )
    intent: Intent | None = Field(default=None, description="The intent that raised it, for reporting.")
    customer_id: RowId | None = Field(
        default=None,
        description="An existing customer. Give either customer_id, or sender_id with channel (the Rasa "
        "conversation; created if new, and given an anonymous customer if it has none).",
    )
    sender_id: SenderId | None = Field(default=None, description="Rasa sender id (with channel).")
    channel: Channel | None = Field(default=None, description="Rasa channel (with sender_id).")


class ChurnSignalOut(ResponseModel):
    id: int
    customer_id: int
    conversation_id: int | None
    kind: Kind
    reason: str | None
    outcome: Outcome
    intent: str | None
    created_at: datetime


class ChurnSignalQuery(QueryModel):
    customer_id: RowId | None = None
    kind: Kind | None = None
    outcome: Outcome | None = None
    limit: PageLimit = 20
    offset: PageOffset = 0


class ChurnSignalPage(ResponseModel):
    items: list[ChurnSignalOut] = Field(description="Newest first.")
    total: int = Field(description="Number of signals matching the filters, over all pages.")
    limit: int
    offset: int
