"""Schemas shared by every domain: the error body and the response base."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ResponseModel(BaseModel):
    """Base of response bodies, built from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


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
