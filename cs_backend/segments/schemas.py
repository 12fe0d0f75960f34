"""Response body of GET /api/segments."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from cs_backend.api.types import ResponseModel


class SegmentOut(ResponseModel):
    name: str = Field(description="at-risk, high-value, new, silent, engaged or steady (docs/CHURN.md).")
    description: str = Field(description="What the rule that named it saw in its centroid.")
    size: int = Field(description="Customers in the segment.")
    centroid: dict[str, float] = Field(
        description="The segment's mean of each feature, in the feature's units."
    )


class SegmentsOut(ResponseModel):
    computed_at: datetime | None = Field(
        description="When the latest run was computed; null before the first."
    )
    customers: int = Field(description="Customers clustered in that run.")
    segments: list[SegmentOut] = Field(description="Largest first.")
