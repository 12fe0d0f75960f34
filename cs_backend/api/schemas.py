"""The error body every route can answer with (docs/API_CONTRACT.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    status: int = Field(description="The HTTP status, repeated for clients that only see the body.")
    message: str
    fields: dict[str, str] | None = Field(
        default=None,
        description="Present on validation errors: each bad field (dotted path for nested fields, or the "
        "query parameter / header name) mapped to what is wrong with it.",
    )


class ErrorResponse(BaseModel):
    error: ErrorDetail
