"""Request and response bodies of /api/customers."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from cs_backend.schemas import ResponseModel
from cs_backend.validation import ApiModel, EmailAddress, text_type

CustomerName = text_type(200)


class CustomerCreate(ApiModel):
    email: EmailAddress = Field(description="Stored lower-cased; one customer per address.")
    name: CustomerName | None = Field(
        default=None, description="Kept on the existing customer only if it has no name yet."
    )


class CustomerOut(ResponseModel):
    id: int
    email: str
    name: str | None
    created_at: datetime
