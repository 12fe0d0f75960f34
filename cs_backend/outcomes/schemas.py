"""Query and response bodies of /api/outcomes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from cs_backend.api.types import Channel, PageLimit, PageOffset, QueryModel, ResponseModel
from cs_backend.outcomes.models import Outcome


class OutcomeOut(ResponseModel):
    id: int
    sender_id: str = Field(description="The Rasa conversation (sender) id.")
    channel: str = Field(description="Rasa's input channel of the session (api when Rasa gave none).")
    session_started_at: datetime
    ended_at: datetime = Field(description="The session's last event.")
    outcome: Outcome
    intents: list[str] = Field(description="The customer's intents in the session, distinct, in order.")
    decided_at: datetime


class OutcomeQuery(QueryModel):
    outcome: Outcome | None = None
    channel: Channel | None = None
    limit: PageLimit = 20
    offset: PageOffset = 0


class OutcomePage(ResponseModel):
    items: list[OutcomeOut] = Field(description="Newest first (by the session's end).")
    total: int = Field(description="Number of outcomes matching the filters, over all pages.")
    limit: int
    offset: int


class OutcomeCounts(ResponseModel):
    ticket_created: int
    escalated: int
    resolved_by_bot: int
    abandoned: int


class OutcomeSummary(ResponseModel):
    total: int = Field(description="Decided sessions.")
    by_outcome: OutcomeCounts = Field(description="Decided sessions per outcome (every outcome present).")
    containment_rate: float | None = Field(
        description="resolved_by_bot / total, from 0 to 1; null while no session is decided."
    )
    handoff_rate: float | None = Field(description="escalated / total, from 0 to 1; null while total is 0.")
