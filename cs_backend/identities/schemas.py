"""Request and response bodies of /api/identities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from cs_backend.api.types import STORABLE, ApiModel, Channel, ResponseModel, RowId, SenderId, trimmed
from cs_backend.identities.models import IdentityKind, LinkEventAction

WebsiteUserId = Annotated[str, trimmed(200), STORABLE]
UserHash = Annotated[str, StringConstraints(pattern="^[0-9a-fA-F]{64}$")]
# A 6-digit code, or the token of a Telegram deep link (URL-safe base64, as Telegram's start parameter
# allows). Not trimmed: the pattern the document states is the whole check (the action sends it trimmed).
LinkCodeText = Annotated[str, StringConstraints(pattern="^[A-Za-z0-9_-]{6,64}$")]


class WebsiteBinding(ApiModel):
    user_id: WebsiteUserId = Field(
        description="The website's user id, verified by the chat channel (userHash)."
    )
    sender_id: SenderId
    channel: Channel


class BindingOut(ResponseModel):
    customer_id: int = Field(description="The website user's customer (created on first sight).")
    conversation_id: int
    merged_customer_id: int | None = Field(
        description="The conversation's anonymous customer merged into customer_id by this call; null when "
        "nothing was merged (bound already, or the conversation was new)."
    )


class WebsiteUserProof(ApiModel):
    user_id: WebsiteUserId
    user_hash: UserHash = Field(
        description="Hex HMAC-SHA256 of user_id under WEBSITE_IDENTITY_SECRET, made by the website's server."
    )


class LinkCodeOut(ResponseModel):
    code: str = Field(description="6 digits, typed in Slack or Telegram as `link <code>`; single use.")
    telegram_link: str | None = Field(
        description="https://t.me/<TELEGRAM_BOT_USERNAME>?start=<token>, single use; null when "
        "TELEGRAM_BOT_USERNAME is unset."
    )
    expires_at: datetime


class LinkCodeRedemption(ApiModel):
    code: LinkCodeText
    sender_id: SenderId = Field(description="The chat identity: the platform user id (the Rasa sender id).")
    # Only chat identities are linked with a code (service.LINKABLE_CHANNELS); website users are verified.
    channel: Literal["slack", "telegram"] = Field(description="slack or telegram.")


class LinkedOut(ResponseModel):
    customer_id: int
    identity_id: int
    conversation_id: int
    merged_customer_id: int | None


class WebsiteUnlink(WebsiteUserProof):
    identity_id: RowId = Field(description="One of the website user's linked chat identities.")


class IdentityOut(ResponseModel):
    id: int
    customer_id: int
    kind: IdentityKind
    external_id: str
    created_at: datetime
    unlinked_at: datetime | None


class LinkEventOut(ResponseModel):
    id: int
    action: LinkEventAction
    kind: IdentityKind
    external_id: str
    identity_id: int | None
    link_code_id: int | None = Field(description="The code that made the link (linked, merged).")
    merged_customer_id: int | None
    actor: str = Field(description='"customer", "service" or "account:<id>" (an agent or admin).')
    at: datetime


class CustomerIdentitiesOut(ResponseModel):
    identities: list[IdentityOut]
    events: list[LinkEventOut] = Field(description="The audit, oldest first.")
