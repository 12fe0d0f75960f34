"""Request and response bodies of /api/auth and /api/accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from cs_backend.accounts.models import Role
from cs_backend.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from cs_backend.api.types import (
    STORABLE,
    ApiModel,
    EmailAddress,
    PageLimit,
    PageOffset,
    QueryModel,
    ResponseModel,
    trimmed,
)

DisplayName = Annotated[str, trimmed(200), STORABLE]
# Not trimmed: spaces are part of a password.
NewPassword = Annotated[
    str, StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
]


class LoginRequest(ApiModel):
    # Any text: an email that cannot exist simply gets the answer of a wrong password.
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), STORABLE]
    password: Annotated[str, StringConstraints(max_length=MAX_PASSWORD_LENGTH)]


class LoginResponse(ResponseModel):
    token: str = Field(
        description="The bearer token of the new session, shown this once: send it as "
        "`Authorization: Bearer <token>`. Only its SHA-256 is stored."
    )
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: datetime
    role: Role
    account_id: int


class CookieLoginResponse(ResponseModel):
    csrf_token: str = Field(
        description="Send it as the `X-CSRF-Token` header of every POST, PATCH, PUT or DELETE of this "
        "session (also in the readable `cs_csrf` cookie). The session token itself is only in the httpOnly "
        "`cs_session` cookie, out of reach of the page's scripts."
    )
    expires_at: datetime
    role: Role
    account_id: int


class AccountOut(ResponseModel):
    id: int
    email: str
    display_name: str
    role: Role
    created_at: datetime
    disabled: bool
    disabled_at: datetime | None


class AccountCreate(ApiModel):
    email: EmailAddress = Field(description="Stored lower-cased; one account per email.")
    display_name: DisplayName
    role: Role
    password: NewPassword = Field(description=f"At least {MIN_PASSWORD_LENGTH} characters.")


class AccountUpdate(ApiModel):
    # _something_to_change's rule: role or disabled, not null.
    schema_rules = {
        "anyOf": [
            {"required": ["role"], "properties": {"role": {"type": "string"}}},
            {"required": ["disabled"], "properties": {"disabled": {"type": "boolean"}}},
        ]
    }
    role: Role | None = None
    disabled: bool | None = Field(
        default=None, description="true disables the account and ends its sessions; false enables it again."
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> AccountUpdate:
        if self.role is None and self.disabled is None:
            raise ValueError("give role or disabled")
        return self


class AccountQuery(QueryModel):
    role: Role | None = None
    limit: PageLimit = 20
    offset: PageOffset = 0


class AccountPage(ResponseModel):
    items: list[AccountOut] = Field(description="Oldest first.")
    total: int
    limit: int
    offset: int
