"""The frames of the console websocket (GET /api/console/ws), as JSON text frames.

Server to page: {"type": <live event type>, "payload": {...}} for the live events; {"type": "ready"} once
subscribed; {"type": "heartbeat"} when nothing else was sent for HEARTBEAT_SECONDS; {"type": "sent"} or
{"type": "error"} answering a `send` frame (and {"type": "error"} answering a frame that is not one).
Page to server: {"type": "send", "handoff_id", "text", "client_id"}.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cs_backend.api.types import STORABLE, ApiModel, ResponseModel, RowId, trimmed

# The longest message an agent sends in one frame (what the reply box allows too).
MAX_MESSAGE_LENGTH = 4000
ClientId = Annotated[str, trimmed(100), STORABLE]


class SendFrame(ApiModel):
    type: Literal["send"]
    handoff_id: RowId
    text: Annotated[str, trimmed(MAX_MESSAGE_LENGTH), STORABLE]
    client_id: ClientId | None = Field(
        default=None, description="The page's id of the message: sending it again never makes a second copy."
    )


class ReadyPayload(ResponseModel):
    account_id: int
    role: str
    display_name: str
    status: str | None = Field(description="The agent's routing status; null without a routing profile.")
