"""Request and response bodies of /api/customers/{id}/activities."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from cs_backend.activities.models import PAYMENT
from cs_backend.api.types import ApiModel, ResponseModel
from cs_backend.db import utcnow

# An event from a clock a little ahead of ours is fine; one from next week is a bug in the sender.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Lower-case words joined by "_", "." or "-": login, feature_used, report.exported.
ActivityKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# At most 100 million in the currency's unit, per event.
AmountCents = Annotated[int, Field(ge=0, le=10_000_000_000)]


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise PydanticCustomError("timestamp", "must be an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("timestamp", "must be an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise PydanticCustomError("timestamp", "must carry a time zone (e.g. Z or +02:00)")
    if parsed - utcnow() > MAX_CLOCK_SKEW:
        raise PydanticCustomError("timestamp", "must not be in the future")
    return parsed.astimezone(timezone.utc)


# Read from its JSON string here (the models are strict: no other coercion).
Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]


class ActivityCreate(ApiModel):
    schema_rules: ClassVar[dict[str, Any]] = {
        "if": {"properties": {"kind": {"const": PAYMENT}}},
        "then": {"required": ["amount_cents", "currency"]},
        "dependentRequired": {"amount_cents": ["currency"], "currency": ["amount_cents"]},
    }

    kind: ActivityKind = Field(description="What happened, e.g. login, feature_used, payment.")
    occurred_at: Timestamp | None = Field(
        default=None, description="When it happened (ISO 8601 with a time zone); default: now."
    )
    amount_cents: AmountCents | None = Field(
        default=None, description="A payment's amount in the currency's minor unit (required for payment)."
    )
    currency: Currency | None = Field(default=None, description="ISO 4217 code of the amount, e.g. EUR.")

    @model_validator(mode="after")
    def _amount_rules(self) -> ActivityCreate:
        if (self.amount_cents is None) != (self.currency is None):
            raise PydanticCustomError("amount", "amount_cents and currency go together")
        if self.kind == PAYMENT and self.amount_cents is None:
            raise PydanticCustomError("amount", "a payment needs amount_cents and currency")
        return self


class ActivityOut(ResponseModel):
    id: int
    customer_id: int
    kind: str
    occurred_at: datetime
    amount_cents: int | None
    currency: str | None
    created_at: datetime
