"""Request and response bodies of /api/surveys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, model_validator

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
from cs_backend.surveys.models import BotTrigger, State, Trigger

Comment = Annotated[str, trimmed(2000), STORABLE]


class SurveyOpen(ApiModel):
    """The bot opens the survey of a handoff that ended, or of onboarding completed, in its conversation."""

    trigger: BotTrigger = Field(
        description="handoff_ended (subject: the handoff) or onboarding_completed (subject: the customer)."
    )
    subject_id: RowId = Field(description="The handoff's id, or the customer's id; must exist.")
    sender_id: SenderId = Field(description="Rasa sender id of the conversation the bot asks in.")
    channel: Channel = Field(description="The conversation's channel.")


class SurveyAnswer(ApiModel):
    """An answer (or a re-submission, which replaces it): CSAT, CES, a comment, at least one of them."""

    # At least one of them given, and not null (_something_answered).
    schema_rules = {
        "anyOf": [
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
            for name in ("csat", "ces", "comment")
        ],
    }
    csat: int | None = Field(default=None, ge=1, le=5, description="1-5.")
    ces: int | None = Field(default=None, ge=1, le=7, description="Customer effort score, 1-7.")
    comment: Comment | None = Field(
        default=None, description="1-2000 characters as sent, then trimmed of surrounding whitespace."
    )

    @model_validator(mode="after")
    def _something_answered(self) -> SurveyAnswer:
        if self.csat is None and self.ces is None and self.comment is None:
            raise ValueError("an answer needs csat, ces or comment")
        return self


class SurveyOut(ResponseModel):
    id: int
    trigger: Trigger
    subject_id: int
    customer_id: int | None
    conversation_id: int | None
    channel: str | None
    state: State
    ask: bool = Field(description="Whether the bot should ask it now: sent and not answered yet.")
    csat: int | None = Field(description="The CSAT answered, if any.")
    ces: int | None = Field(description="The CES answered, if any.")
    comment: str | None
    delivery_attempts: int
    last_error: str | None
    follow_up_task_id: int | None = Field(description="The task opened for a low score with a comment.")
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None


class SurveyQuery(QueryModel):
    state: State | None = None
    trigger: Trigger | None = None
    customer_id: RowId | None = None
    limit: PageLimit = 20
    offset: PageOffset = 0


class SurveyPage(ResponseModel):
    items: list[SurveyOut] = Field(description="Newest first.")
    total: int = Field(description="Number of surveys matching the filters, over all pages.")
    limit: int
    offset: int
