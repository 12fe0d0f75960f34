"""Request and response bodies of /api/conversations."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from cs_backend.api.types import ApiModel, Channel, EmailAddress, ResponseModel, SenderId


class ConversationUpsert(ApiModel):
    sender_id: SenderId = Field(description="The Rasa sender (conversation) id.")
    channel: Channel = Field(description="The Rasa channel, e.g. rest or socketio.")
    email: EmailAddress | None = Field(
        default=None, description="Attaches the customer of this email (created if new) to the conversation."
    )


class ConversationOut(ResponseModel):
    id: int
    sender_id: str
    channel: str
    customer_id: int | None
    started_at: datetime
    last_seen_at: datetime
