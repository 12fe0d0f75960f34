"""Response bodies and queries of the health routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from cs_backend.api.types import PageLimit, PageOffset, QueryModel, ResponseModel
from cs_backend.health_scores.models import Band


class FactorOut(ResponseModel):
    name: str = Field(description="The factor's key in weights.toml, e.g. open_tickets.")
    label: str = Field(description="What it is, for a person.")
    value: float = Field(description="The customer's value of the factor's feature.")
    points: float = Field(description="What it added to (positive) or took from (negative) the score.")


class HealthOut(ResponseModel):
    customer_id: int
    score: int = Field(description="0-100; higher is healthier.")
    band: Band
    factors: list[FactorOut] = Field(description="The top factors, largest effect first.")
    computed_at: datetime
    churn_probability: float | None = Field(description="From the active churn model, when there is one.")
    model_version: str | None = Field(description="The churn model's version, when there is one.")


class HealthHistoryOut(ResponseModel):
    id: int
    customer_id: int
    score: int
    band: Band
    factors: list[FactorOut]
    computed_at: datetime
    reason: str = Field(description="What caused the rescore: a signal (ticket.created, ...) or rescore.")


class HealthHistoryQuery(QueryModel):
    limit: PageLimit = 20
    offset: PageOffset = 0


class HealthHistoryPage(ResponseModel):
    items: list[HealthHistoryOut] = Field(description="Newest first.")
    total: int
    limit: int
    offset: int


class HealthListQuery(QueryModel):
    band: Band | None = None
    limit: PageLimit = 20
    offset: PageOffset = 0


class HealthPage(ResponseModel):
    items: list[HealthOut] = Field(description="Lowest score first.")
    total: int = Field(description="Number of scored customers matching the filter, over all pages.")
    limit: int
    offset: int
