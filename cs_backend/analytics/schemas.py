"""Query and response bodies of /api/analytics (every formula is in docs/METRICS.md)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from cs_backend.api.types import QueryModel, ResponseModel
from cs_backend.db import utcnow

By = Literal["period", "intent", "channel", "agent"]
Period = Literal["day", "week", "month"]

# The longest window one request may cover: it bounds the rows a median or an outcome grouping reads.
MAX_WINDOW_DAYS = 366
DEFAULT_WINDOW_DAYS = 30
# Days outside these are refused: the windows before a window, and the period after one, stay real days.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2999, 12, 31)


def _iso_day(value: object) -> object:
    # Only YYYY-MM-DD: pydantic would also read "0" or "1700000000" as a Unix time.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise PydanticCustomError("day_format", "must be a day written YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]


class AnalyticsWindow(QueryModel):
    """A window of whole UTC days, both ends included."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    from_: Day | None = Field(
        default=None,
        alias="from",
        description=f"First day (YYYY-MM-DD, UTC), included. Default: {DEFAULT_WINDOW_DAYS - 1} days before "
        "`to`.",
    )
    to: Day | None = Field(default=None, description="Last day (YYYY-MM-DD, UTC), included. Default: today.")

    @model_validator(mode="after")
    def _bounded_window(self) -> AnalyticsWindow:
        if self.to is None:
            self.to = min(utcnow().date(), LAST_DAY)
        problems: list[tuple[str, str, str]] = [
            (name, "day_range", f"must be a day from {FIRST_DAY} to {LAST_DAY}")
            for name, day in (("from", self.from_), ("to", self.to))
            if day is not None and not FIRST_DAY <= day <= LAST_DAY
        ]
        if not problems:
            if self.from_ is None:
                self.from_ = max(self.to - timedelta(days=DEFAULT_WINDOW_DAYS - 1), FIRST_DAY)
            if self.from_ > self.to:
                problems.append(("from", "window_order", "must not be after `to`"))
            elif (self.to - self.from_).days + 1 > MAX_WINDOW_DAYS:
                problems.append(
                    ("from", "window_length", f"the window covers at most {MAX_WINDOW_DAYS} days")
                )
        if problems:
            # Named after the parameter at fault, as every other bad query value is.
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(type=PydanticCustomError(kind, message), loc=(name,), input=None)
                    for name, kind, message in problems
                ],
            )
        return self

    @property
    def first_day(self) -> date:
        assert self.from_ is not None  # set by the validator
        return self.from_

    @property
    def last_day(self) -> date:
        assert self.to is not None  # set by the validator
        return self.to


class SummaryQuery(AnalyticsWindow):
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None,
        description="ISO 4217 code of the payments the lifetime value adds up. Default: the currency of most "
        "payments.",
    )
    by: By = Field(default="period", description="Group the metrics by period, intent, channel or agent.")
    period: Period = Field(
        default="day", description="With by=period: day, week (starting on Monday) or month, in UTC."
    )


class DistributionQuery(AnalyticsWindow):
    pass


class Metrics(ResponseModel):
    """Every metric is null when the group has none of the rows it is computed from (never a made-up 0)."""

    csat_percent: float | None = Field(description="Share of CSAT ratings that are 4 or 5, in percent.")
    csat_responses: int = Field(description="CSAT ratings counted.")
    ces_mean: float | None = Field(description="Mean CES score (1-7).")
    ces_responses: int = Field(description="CES ratings counted.")
    sessions: int | None = Field(
        description="Conversation sessions with a decided outcome (null: not by agent)."
    )
    containment_rate: float | None = Field(description="Share of sessions resolved by the bot, 0-1.")
    handoff_rate: float | None = Field(description="Share of sessions escalated to a person, 0-1.")
    first_contact_resolution: float | None = Field(
        description="Share of non-abandoned sessions resolved (by the bot or a person) with no new "
        "session of the same conversation within 7 days, 0-1."
    )
    handoffs: int | None = Field(description="Handoffs queued in the group (null: not by intent).")
    median_first_response_seconds: float | None = Field(
        description="Median seconds from a handoff's queueing to the agent's first reply."
    )
    median_resolution_seconds: float | None = Field(
        description="Median seconds from a handoff's queueing to its resolution."
    )
    retention_rate: float | None = Field(
        default=None,
        description="Share of the customers active in the span before (the previous period, or as many days "
        "before the window) who are active again in this one, 0-1 (null when grouped by intent, channel or "
        "agent).",
    )
    previously_active_customers: int | None = Field(
        default=None, description="Customers with an activity event in the span before (retention's base)."
    )
    customer_lifetime_value: float | None = Field(
        default=None,
        description="Mean of what each paying customer has paid, in currency units, up to the end of the "
        "period or window (payments of `currency` only).",
    )
    paying_customers: int | None = Field(
        default=None, description="Customers with a payment of `currency` before the end of the span."
    )
    currency: str | None = Field(default=None, description="The currency of the lifetime value.")


class MetricsGroup(ResponseModel):
    key: str | None = Field(
        description="The period's first day (YYYY-MM-DD), the intent, the channel or the agent's account id; "
        "null for ratings or sessions without an intent, or ratings without an agent."
    )
    label: str = Field(description="What to show: the key, the agent's name, or '(none)'.")
    metrics: Metrics


class Summary(ResponseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    from_: date = Field(serialization_alias="from", alias="from")
    to: date
    by: By
    period: Period
    overall: Metrics
    groups: list[MetricsGroup] = Field(
        description="by=period: every period of the window in order (empty ones included, their metrics "
        "null); otherwise the groups that have data, largest first."
    )


class Distribution(ResponseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    from_: date = Field(serialization_alias="from", alias="from")
    to: date
    csat: dict[str, int] = Field(description="CSAT score '1'..'5' → number of ratings (every score present).")
    ces: dict[str, int] = Field(description="CES score '1'..'7' → number of ratings (every score present).")
