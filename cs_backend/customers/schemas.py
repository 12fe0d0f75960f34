"""Request and response bodies of /api/customers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from cs_backend.api.types import STORABLE, ApiModel, EmailAddress, ResponseModel, trimmed

CustomerName = Annotated[str, trimmed(200), STORABLE]


class CustomerCreate(ApiModel):
    email: EmailAddress = Field(description="Stored lower-cased; one customer per address.")
    name: CustomerName | None = Field(
        default=None, description="Kept on the existing customer only if it has no name yet."
    )


class CustomerOut(ResponseModel):
    id: int
    email: str | None = Field(description="null for an anonymous customer (known from a conversation only).")
    name: str | None
    created_at: datetime
