"""Request and response bodies of /api/tickets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from cs_backend.api.types import (
    STORABLE,
    ApiModel,
    Channel,
    EmailAddress,
    PageLimit,
    PageOffset,
    QueryModel,
    ResponseModel,
    SenderId,
    trimmed,
)
from cs_backend.tickets.models import Priority, Status

SUBJECT_FROM_DESCRIPTION_LENGTH = 120
DESCRIPTION_MAX_LENGTH = 5000
Description = Annotated[str, trimmed(DESCRIPTION_MAX_LENGTH), STORABLE]
Subject = Annotated[str, trimmed(200), STORABLE]


class TicketCreate(ApiModel):
    description: Description = Field(
        description="1-5000 characters as sent, then trimmed of surrounding whitespace."
    )
    email: EmailAddress = Field(description="The customer's address (customer created if new).")
    priority: Priority = Field(default="normal", description="null or absent means normal.")
    subject: Subject | None = Field(
        default=None,
        description="1-200 characters. Default: the description's first line cut to "
        f"{SUBJECT_FROM_DESCRIPTION_LENGTH} characters.",
    )
    sender_id: SenderId | None = Field(
        default=None, description="Rasa sender id: links the ticket to the conversation (sender_id, channel)."
    )
    channel: Channel = Field(default="api", description="null or absent means api.")

    def effective_subject(self) -> str:
        if self.subject:
            return self.subject
        first_line = self.description.splitlines()[0].strip()
        return first_line[:SUBJECT_FROM_DESCRIPTION_LENGTH].rstrip()


class TicketStatusUpdate(ApiModel):
    status: Status


class TicketOut(ResponseModel):
    id: int = Field(description="The ticket number customers are told.")
    subject: str
    description: str
    priority: Priority
    status: Status
    email: str
    customer_id: int
    conversation_id: int | None
    channel: str
    created_at: datetime
    updated_at: datetime


class TicketQuery(QueryModel):
    status: Status | None = None
    priority: Priority | None = None
    email: EmailAddress | None = None
    sender_id: SenderId | None = Field(
        default=None, description="Tickets of this Rasa conversation (with `channel`: of that channel only)."
    )
    channel: Channel | None = None
    scope: Literal["conversation", "customer"] = Field(
        default="conversation",
        description="With sender_id: `conversation`, the tickets opened in that conversation; `customer`, "
        "also those of its customer's other conversations on any channel when the customer is identified (a "
        "verified website user, a linked Slack or Telegram account), and `channel` names the conversation "
        "instead of filtering the tickets.",
    )
    limit: PageLimit = 20
    offset: PageOffset = 0


class TicketPage(ResponseModel):
    items: list[TicketOut] = Field(description="Newest first.")
    total: int = Field(description="Number of tickets matching the filters, over all pages.")
    limit: int
    offset: int
