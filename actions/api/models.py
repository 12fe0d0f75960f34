"""The answers of cs_backend that the actions read, as immutable models decoded strictly.

Each model follows a component schema of the served OpenAPI document (GET /api/openapi.json, summarised in
docs/API_CONTRACT.md; tests/actions/test_backend_contract.py checks that they agree). Decoding fails on a
missing field, a value of another JSON type (no coercion: "7" is not an id) and null where the contract does
not allow it; fields the models do not name are ignored, so the backend may add fields without breaking the
bot. A model names only the fields the actions use.

pydantic 1.10 (the version Rasa 3.6 pins): ``Strict*`` types refuse coercion, and ``X | None = Field(...)``
is a field that must be present but may be null (a bare ``X | None`` would make it optional in pydantic 1).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Extra, Field, StrictBool, StrictInt, StrictStr

# The values the conversation relies on: `lookup_status` is a categorical slot with these values, and
# utter_ticket_created words an urgent ticket differently.
TicketPriority = Literal["low", "normal", "high", "urgent"]
TicketStatus = Literal["open", "pending", "resolved", "closed"]


class BackendModel(BaseModel):
    """Immutable, and tolerant of fields it does not name (additive backend changes)."""

    class Config:
        frozen = True
        extra = Extra.ignore


class Ticket(BackendModel):
    """A ticket (component TicketOut); `id` is the number customers are told."""

    id: StrictInt
    subject: StrictStr
    description: StrictStr
    priority: TicketPriority
    status: TicketStatus
    email: StrictStr
    customer_id: StrictInt
    conversation_id: StrictInt | None = Field(...)
    channel: StrictStr
    created_at: StrictStr
    updated_at: StrictStr


class TicketPage(BackendModel):
    """A page of tickets, newest first (component TicketPage)."""

    items: tuple[Ticket, ...]
    total: StrictInt
    limit: StrictInt
    offset: StrictInt


class Feedback(BackendModel):
    """A stored CSAT or CES rating (component FeedbackOut)."""

    id: StrictInt
    kind: StrictStr
    score: StrictInt
    comment: StrictStr | None = Field(...)
    ticket_id: StrictInt | None = Field(...)
    conversation_id: StrictInt | None = Field(...)
    channel: StrictStr
    intent: StrictStr | None = Field(...)
    resolver: StrictStr
    created_at: StrictStr


# The values the conversation relies on: a survey is asked only while it is `sent` (the `ask` flag).
SurveyTrigger = Literal["ticket_resolved", "handoff_ended", "onboarding_completed"]
SurveyState = Literal["pending", "sent", "answered", "suppressed", "abandoned"]


class Survey(BackendModel):
    """A CSAT/CES survey and its answer (component SurveyOut); `ask`: the bot should ask it now."""

    id: StrictInt
    trigger: SurveyTrigger
    subject_id: StrictInt
    state: SurveyState
    ask: StrictBool
    csat: StrictInt | None = Field(...)
    ces: StrictInt | None = Field(...)
    comment: StrictStr | None = Field(...)


class OnboardingStep(BackendModel):
    """A step of the onboarding checklist (component StepOut)."""

    key: StrictStr
    title: StrictStr
    how_to: StrictStr
    docs_url: StrictStr
    position: StrictInt


class OnboardingChecklist(BackendModel):
    """The whole checklist, in order (component StepList)."""

    steps: tuple[OnboardingStep, ...]


class OnboardingStepState(BackendModel):
    """One checklist step in a customer's progress: done or not, since when, reported by whom
    (component StepProgressOut)."""

    key: StrictStr
    title: StrictStr
    done: StrictBool
    completed_at: StrictStr | None = Field(...)
    source: StrictStr | None = Field(...)


class OnboardingProgress(BackendModel):
    """A customer's onboarding progress: every step in checklist order, and the first one not done
    (component ProgressOut). `customer_id` is None for a conversation that has no customer yet (read
    before onboarding started): nothing is done."""

    customer_id: StrictInt | None = Field(...)
    steps: tuple[OnboardingStepState, ...]
    done_count: StrictInt
    total: StrictInt
    next_step: OnboardingStep | None = Field(...)
    completed: StrictBool

    def step(self, key: str) -> OnboardingStepState | None:
        return next((state for state in self.steps if state.key == key), None)

    def is_done(self, key: str) -> bool:
        state = self.step(key)
        return state is not None and state.done


class ChurnSignal(BackendModel):
    """A recorded churn signal (component ChurnSignalOut)."""

    id: StrictInt
    customer_id: StrictInt
    kind: StrictStr
    reason: StrictStr | None = Field(...)
    outcome: StrictStr


class WebsiteBinding(BackendModel):
    """A conversation bound to its verified website user's customer (component BindingOut)."""

    customer_id: StrictInt
    merged_customer_id: StrictInt | None = Field(...)


class LinkedAccount(BackendModel):
    """A chat identity linked to a customer by a link code (component LinkedOut)."""

    customer_id: StrictInt
    identity_id: StrictInt


class ErrorDetail(BackendModel):
    """What went wrong (component ErrorDetail); `fields` names each rejected field on a 400."""

    status: StrictInt
    message: StrictStr
    fields: dict[StrictStr, StrictStr] | None = None


class ErrorResponse(BackendModel):
    """The body of every 4xx/5xx answer (component ErrorResponse)."""

    error: ErrorDetail


# A handoff's states (cs_backend/routing/models.py): queued → assigned → accepted → resolved, or cancelled.
HandoffState = Literal["queued", "assigned", "accepted", "resolved", "cancelled"]
# Why nobody could take a handoff now: no agent matching it online, or the team outside its business hours.
HandoffUnavailable = Literal["no_agent", "closed"]
LIVE_HANDOFF_STATES = frozenset({"queued", "assigned", "accepted"})


class Handoff(BackendModel):
    """A handoff of the conversation to a person (component HandoffOut; docs/HANDOFF.md).

    `unavailable` is set when nobody could take it now: it is then closed (cancelled), with `ticket_id` when a
    ticket carrying the conversation was created (the email was known), and `reopens_at` (ISO datetime) when
    the team is outside its hours. `estimated_wait_seconds` and `queue_position` are set while it is queued;
    `agent_id` / `agent_name` name the agent it is offered to or held by."""

    id: StrictInt
    state: HandoffState
    agent_id: StrictInt | None = Field(...)
    # Optional in the served contract (absent means null).
    agent_name: StrictStr | None = None
    queue_position: StrictInt | None = None
    estimated_wait_seconds: StrictInt | None = None
    ticket_id: StrictInt | None = None
    unavailable: HandoffUnavailable | None = None
    reopens_at: StrictStr | None = None

    @property
    def is_live(self) -> bool:
        """Waiting for an agent, offered to one or held by one: the customer's messages go to the agent."""
        return self.state in LIVE_HANDOFF_STATES


class RelayedMessage(BackendModel):
    """The answer to a customer's message relayed to the handoff's agent: `stored` is false when the handoff
    is over (resolved or cancelled): nothing was stored and the bot takes the conversation back."""

    handoff: Handoff
    stored: StrictBool
