"""Request and response bodies of /api/onboarding."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from cs_backend.api.types import (
    STORABLE,
    ApiModel,
    Channel,
    QueryModel,
    ResponseModel,
    RowId,
    SenderId,
    trimmed,
)
from cs_backend.customers.identity import IDENTITY_SCHEMA_RULES
from cs_backend.onboarding.checklist import STEP_KEY_MAX_LENGTH
from cs_backend.onboarding.models import Source

StepKey = Annotated[str, trimmed(STEP_KEY_MAX_LENGTH), STORABLE]

_IDENTITY = (
    "Give either customer_id, or sender_id with channel (the Rasa conversation; created if new, and given an "
    "anonymous customer if it has none)."
)


class ProgressQuery(QueryModel):
    customer_id: RowId | None = Field(default=None, description="An existing customer.")
    sender_id: SenderId | None = Field(default=None, description="Rasa sender id (with channel).")
    channel: Channel | None = Field(default=None, description="Rasa channel (with sender_id).")


class OnboardingStart(ApiModel):
    sender_id: SenderId = Field(description="Rasa sender id of the conversation that starts onboarding.")
    channel: Channel = Field(description="Rasa channel of that conversation (the one nudges go to).")


class ProgressUpdate(ApiModel):
    schema_rules = IDENTITY_SCHEMA_RULES

    step: StepKey = Field(description="A step key of GET /api/onboarding/steps.")
    customer_id: RowId | None = Field(default=None, description="An existing customer. " + _IDENTITY)
    sender_id: SenderId | None = Field(default=None, description="Rasa sender id (with channel).")
    channel: Channel | None = Field(default=None, description="Rasa channel (with sender_id).")
    source: Source = Field(
        default="customer",
        description="Who reports the step: the customer (in the chat) or the product. null or absent means "
        "customer. Kept from the first completion.",
    )


class StepOut(ResponseModel):
    key: str
    title: str
    how_to: str = Field(description="Concrete instructions for the customer.")
    docs_url: str
    position: int = Field(description="1-based position in the checklist.")


class StepList(ResponseModel):
    steps: list[StepOut] = Field(description="In checklist order.")


class StepProgressOut(ResponseModel):
    key: str
    title: str
    done: bool
    completed_at: datetime | None
    source: Source | None = Field(description="Who reported the step; null while not done.")


class ProgressOut(ResponseModel):
    customer_id: int | None = Field(
        description="The customer. null: the conversation asked about is unknown or has no customer yet "
        "(reading creates neither; POST /api/onboarding/start or completing a step does), so nothing is done."
    )
    steps: list[StepProgressOut] = Field(description="Every step, in checklist order.")
    done_count: int
    total: int
    next_step: StepOut | None = Field(
        description="The first step not done, in checklist order; null when complete."
    )
    completed: bool = Field(description="Every step is done.")


class StalledCustomerOut(ResponseModel):
    customer_id: int
    sender_id: str = Field(description="The customer's most recently active conversation.")
    channel: str
    next_step: str = Field(description="Key of the first step not done.")
    idle_hours: float = Field(description="Hours since the last onboarding activity (or first contact).")


class StalledList(ResponseModel):
    items: list[StalledCustomerOut] = Field(description="Longest idle first.")
