"""Request and response bodies of /api/routing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, WithJsonSchema

from cs_backend.api.types import (
    STORABLE,
    ApiModel,
    Channel,
    EmailAddress,
    PageLimit,
    PageOffset,
    QueryModel,
    ResponseModel,
    RowId,
    SenderId,
    trimmed,
)
from cs_backend.churn.schemas import ChurnSignalOut
from cs_backend.customers.schemas import CustomerOut
from cs_backend.feedback.schemas import FeedbackOut
from cs_backend.onboarding.schemas import ProgressOut
from cs_backend.routing.conversation_summary import LAST_MESSAGES, Speaker
from cs_backend.routing.models import (
    AgentStatus,
    Delivery,
    HandoffReason,
    HandoffState,
    MessageKind,
    Priority,
    Unavailable,
)
from cs_backend.tickets.schemas import TicketOut


def _lower_case(value: object) -> object:
    # Before the pattern is checked ("EN" is "en"); non-strings are left for the type check to refuse.
    return value.lower() if isinstance(value, str) else value


# The document states each rule as the server applies it: any case is accepted (and stored lower-cased),
# so its pattern is the case-insensitive one (pydantic leaves the pattern out next to a BeforeValidator).
# An ISO 639-1/639-3 language code, lower-cased: "en", "zh", "yue".
Language = Annotated[
    str,
    BeforeValidator(_lower_case),
    StringConstraints(pattern=r"^[a-z]{2,3}$"),
    WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z]{2,3}$"}),
]
# A skill's name, lower-cased: "billing", "technical", "api-integrations".
Skill = Annotated[
    str,
    BeforeValidator(_lower_case),
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$"),
    WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$"}),
]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
TeamName = Annotated[str, trimmed(100), STORABLE]
Detail = Annotated[str, trimmed(1000), STORABLE]
# A chat message or a note: what the widget accepts (CHAT_MESSAGE_MAX_CHARS, 2,000 by default) with room.
MessageText = Annotated[str, trimmed(4000), STORABLE]
# Rasa's message id of a customer message, or the console's own id of an agent message.
ExternalMessageId = Annotated[str, trimmed(200), STORABLE]
# The zones this machine's zoneinfo knows, which the document lists (an enum): exactly what the check accepts.
KNOWN_TIME_ZONES = sorted(available_timezones())
_KNOWN_TIME_ZONE_SET = frozenset(KNOWN_TIME_ZONES)


def _known_time_zone(value: str) -> str:
    if value not in _KNOWN_TIME_ZONE_SET:
        raise ValueError("must be an IANA time zone name such as Europe/Paris")
    return value


TimeZoneName = Annotated[
    str,
    AfterValidator(_known_time_zone),
    WithJsonSchema({"type": "string", "enum": KNOWN_TIME_ZONES}),
]


def _sorted_unique(values: list[str]) -> list[str]:
    return sorted(set(values))


Skills = Annotated[list[Skill], Field(max_length=50), AfterValidator(_sorted_unique)]
Languages = Annotated[list[Language], Field(min_length=1, max_length=20), AfterValidator(_sorted_unique)]


class Opening(ApiModel):
    weekday: int = Field(ge=0, le=6, description="0 is Monday, 6 is Sunday (the team's local calendar).")
    opens: ClockTime = Field(description="HH:MM, local time of the team.")
    closes: ClockTime = Field(
        description="HH:MM, local time; at or before `opens`, the opening runs past midnight into the "
        "next day."
    )


BusinessHours = Annotated[list[Opening], Field(max_length=70)]


class TeamCreate(ApiModel):
    name: TeamName
    time_zone: TimeZoneName = Field(description="IANA zone of the business hours (Asia/Shanghai).")
    business_hours: BusinessHours = Field(
        description="The weekly openings; none means the team is never open (its agents get no handoffs)."
    )


class TeamUpdate(ApiModel):
    name: TeamName | None = None
    time_zone: TimeZoneName | None = None
    business_hours: BusinessHours | None = None


class TeamOut(ResponseModel):
    id: int
    name: str
    time_zone: str
    business_hours: list[Opening]
    created_at: datetime
    updated_at: datetime


class TeamList(ResponseModel):
    items: list[TeamOut] = Field(description="By name.")


class AgentProfileSet(ApiModel):
    skills: Skills = Field(default_factory=list, description="Lower-cased, stored sorted and unique.")
    languages: Languages = Field(description='ISO 639 codes the agent answers in ("en", "zh").')
    capacity: int = Field(ge=1, le=100, description="Handoffs (offered or live) the agent can hold at once.")
    team_id: RowId | None = Field(default=None, description="Their team, whose business hours they keep.")
    status: AgentStatus | None = Field(
        default=None, description="Absent: unchanged (offline for a new profile)."
    )


class AgentStatusSet(ApiModel):
    status: AgentStatus


class AgentProfileOut(ResponseModel):
    account_id: int
    display_name: str
    team_id: int | None
    skills: list[str]
    languages: list[str]
    capacity: int
    status: AgentStatus
    load: int = Field(description="Handoffs offered to or live with the agent now.")
    status_changed_at: datetime
    last_assigned_at: datetime | None


class AgentProfileList(ResponseModel):
    items: list[AgentProfileOut] = Field(description="By account id.")


class HandoffCreate(ApiModel):
    sender_id: SenderId = Field(description="Rasa sender id of the conversation to hand to a person.")
    channel: Channel = Field(default="api", description="null or absent means api.")
    email: EmailAddress | None = Field(default=None, description="The customer's address, when known.")
    language: Language = Field(default="en", description="ISO 639 code of the conversation.")
    skill: Skill | None = Field(default=None, description="The skill the agent needs; absent: any agent.")
    team_id: RowId | None = Field(default=None, description="Only agents of this team.")
    priority: Priority = "normal"
    at_risk: bool = Field(default=False, description="A customer at risk of churning: served first.")
    high_value: bool = Field(default=False, description="A high-value customer: served first.")
    reason: HandoffReason
    detail: Detail | None = Field(default=None, description="What the agent should know first (1-1000).")


class HandoffTransfer(ApiModel):
    agent_id: RowId | None = Field(
        default=None,
        description="Offer it to this agent (eligible, as routing would check); absent: back to the queue.",
    )
    team_id: RowId | None = Field(default=None, description="Back to the queue of this team.")


class HandoffOut(ResponseModel):
    id: int
    conversation_id: int
    sender_id: str
    channel: str
    customer_id: int | None
    language: str
    skill: str | None
    team_id: int | None
    priority: Priority
    at_risk: bool
    high_value: bool
    reason: HandoffReason
    detail: str | None
    state: HandoffState
    agent_id: int | None = Field(description="The agent it is offered to (assigned) or live with (accepted).")
    queue_position: int | None = Field(default=None, description="1-based, while queued (the live queue).")
    queued_at: datetime
    offered_at: datetime | None
    accepted_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime
    estimated_wait_seconds: int | None = Field(
        default=None, description="While queued: the estimated wait (docs/HANDOFF.md, the formula)."
    )
    agent_name: str | None = Field(default=None, description="The name of the agent in agent_id.")
    unavailable: Unavailable | None = Field(
        default=None,
        description="Set when nobody could take it: closed at once (state cancelled) because no agent who "
        "fits was online (no_agent) or the team was outside its business hours (closed).",
    )
    reopens_at: datetime | None = Field(
        default=None, description="unavailable closed: when the team's business hours start again."
    )
    ticket_id: int | None = Field(
        default=None, description="unavailable: the ticket carrying the packet, once an email is known."
    )


class HandoffTicketCreate(ApiModel):
    email: EmailAddress = Field(description="Where the customer hears back (customer created if new).")


class CustomerMessageCreate(ApiModel):
    text: MessageText = Field(
        description="The customer's message, as written (1-4000 characters as sent, then trimmed)."
    )
    message_id: ExternalMessageId | None = Field(
        default=None, description="Rasa's message id: the same id twice stores the message once."
    )


class CustomerMessageResult(ResponseModel):
    handoff: HandoffOut
    stored: bool = Field(
        description="false: the handoff is resolved or cancelled, nothing was stored (the bot takes over)."
    )


class AgentMessageCreate(ApiModel):
    text: MessageText = Field(description="What the customer reads, as plain text (1-4000).")
    client_id: ExternalMessageId | None = Field(
        default=None,
        description="The console's id of the message: sending it again never stores a second copy, and "
        "retries a failed delivery.",
    )


class NoteCreate(ApiModel):
    text: MessageText = Field(description="An internal note (1-4000), never shown to the customer.")


class HandoffMessageOut(ResponseModel):
    id: int
    kind: MessageKind
    text: str = Field(description="As written; render it as text, never as HTML.")
    author_id: int | None = Field(description="The agent or admin (agent messages and notes).")
    author_name: str | None
    created_at: datetime
    delivery: Delivery | None = Field(
        description="Agent messages: delivered to the customer through Rasa, or failed (send again with "
        "the same client_id); null for the other kinds."
    )


class HandoffMessageList(ResponseModel):
    items: list[HandoffMessageOut] = Field(description="Oldest first.")


class ActiveHandoffQuery(QueryModel):
    sender_id: SenderId = Field(description="Rasa sender id of the conversation.")


class QueueQuery(QueryModel):
    limit: PageLimit = 20
    offset: PageOffset = 0


class QueuePage(ResponseModel):
    items: list[HandoffOut] = Field(description="Queued handoffs in queue order (who is served next first).")
    total: int = Field(description="Handoffs in the queue.")
    limit: int
    offset: int
    held: list[HandoffOut] = Field(description="Handoffs offered to or live with an agent, oldest first.")


class IntentCountOut(ResponseModel):
    intent: str
    count: int = Field(description="Customer messages with this intent (a clarified message counts once).")


class MessageOut(ResponseModel):
    speaker: Speaker
    text: str = Field(description="As written; render it as text, never as HTML.")
    sent_at: datetime | None
    intent: str | None = Field(default=None, description="The intent Rasa read (customer messages).")


class ConversationSummaryOut(ResponseModel):
    intents: list[IntentCountOut] = Field(description="Each intent once, in the order first seen.")
    slots: dict[str, Any] = Field(
        description="Filled slots by name; internal ones (requested_slot), the bot's record of the handoff "
        "(handoff_*) and any named like a secret (password, token, ...) are left out."
    )
    last_messages: list[MessageOut] = Field(
        description=f"The last {LAST_MESSAGES} messages of the customer and the bot, oldest first."
    )
    not_understood: list[MessageOut] = Field(
        description="Customer messages the bot did not understand (intent nlu_fallback, or answered by a "
        "fallback action), oldest first."
    )


class SuggestedPriorityOut(ResponseModel):
    priority: Priority = Field(description="Never lower than the handoff's own priority.")
    reasons: list[str] = Field(description="Why, one line per rule that applied (docs/HANDOFF.md).")


class HandoffPacketOut(ResponseModel):
    handoff: HandoffOut = Field(description="The handoff: its reason, detail, priority and state.")
    suggested_priority: SuggestedPriorityOut
    customer: CustomerOut | None = Field(description="null while the conversation has no customer.")
    onboarding: ProgressOut
    open_tickets: list[TicketOut] = Field(
        description="The customer's open and pending tickets, newest first."
    )
    last_csat: FeedbackOut | None
    last_ces: FeedbackOut | None
    churn_signals: list[ChurnSignalOut] = Field(description="The customer's churn signals, newest first.")
    conversation_available: bool = Field(
        description="false: Rasa could not be reached, so `conversation` is null; the rest is complete."
    )
    conversation: ConversationSummaryOut | None = Field(
        description="The conversation's summary (Rasa tracker)."
    )
