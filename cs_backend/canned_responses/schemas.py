"""Request and response bodies of /api/canned-responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, Field, StringConstraints, WithJsonSchema, model_validator

from cs_backend.api.types import STORABLE, ApiModel, QueryModel, ResponseModel, trimmed
from cs_backend.routing.schemas import Language

MAX_TEXT_LENGTH = 2000


def _lower_case(value: object) -> object:
    # Before the pattern is checked ("Refund" is "refund"); non-strings are left for the type check to refuse.
    return value.lower() if isinstance(value, str) else value


# What the agent types after "/": the document states the case-insensitive pattern the check accepts.
Shortcut = Annotated[
    str,
    BeforeValidator(_lower_case),
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$"),
    WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$"}),
]
Title = Annotated[str, trimmed(100), STORABLE]
Text = Annotated[str, trimmed(MAX_TEXT_LENGTH), STORABLE]


class CannedResponseCreate(ApiModel):
    title: Title = Field(description="What the list shows (1-100 characters).")
    shortcut: Shortcut = Field(
        description='Typed after "/" in the reply box ("refund"): letters, digits, "-" and "_", stored '
        "lower-cased, unique."
    )
    text: Text = Field(description=f"The reply inserted, 1-{MAX_TEXT_LENGTH} characters, sent as plain text.")
    language: Language = Field(default="en", description="ISO 639 code of the text.")


class CannedResponseUpdate(ApiModel):
    # _something_to_change's rule, for the document.
    schema_rules = {
        "anyOf": [
            {"required": [name], "properties": {name: {"type": "string"}}}
            for name in ("title", "shortcut", "text", "language")
        ]
    }
    title: Title | None = None
    shortcut: Shortcut | None = None
    text: Text | None = None
    language: Language | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> CannedResponseUpdate:
        if self.title is None and self.shortcut is None and self.text is None and self.language is None:
            raise ValueError("give title, shortcut, text or language")
        return self


class CannedResponseOut(ResponseModel):
    id: int
    title: str
    shortcut: str
    text: str = Field(description="Plain text: render it as text, never as HTML.")
    language: str
    created_at: datetime
    updated_at: datetime


class CannedResponseQuery(QueryModel):
    language: Language | None = Field(default=None, description="Only the responses in this language.")


class CannedResponseList(ResponseModel):
    items: list[CannedResponseOut] = Field(description="By shortcut.")
