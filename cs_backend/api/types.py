"""Types shared by every domain's schemas: the request, query and response bases, field types, id bounds and
the Idempotency-Key header's name and length."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, PydanticKnownError, core_schema

from cs_backend.storable_text import UnstorableReason, unstorable_reason

# Primary keys are PostgreSQL `integer`; a larger id cannot exist, and passing it on would be a driver error.
MAX_ID = 2**31 - 1
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 200
# An Idempotency-Key is 1-200 visible ASCII characters (spaces allowed inside); the spaces and tabs around a
# header value are not part of it (HTTP's optional whitespace). The OpenAPI document states this pattern.
IDEMPOTENCY_KEY_PATTERN = f"^[ \\t]*[!-~](?:[ -~]{{0,{IDEMPOTENCY_KEY_MAX_LENGTH - 2}}}[!-~])?[ \\t]*$"


def _request_body_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The JSON Schema of a request body says what validation does beyond each field's type: an optional field
    may be null (`_null_means_default`), and the model's `schema_rules` between fields hold."""
    properties = schema.get("properties", {})
    for name, info in model.model_fields.items():
        field_schema = properties.get(info.alias or name)
        if info.is_required() or field_schema is None:
            continue
        if {"type": "null"} in field_schema.get("anyOf", []):
            continue
        # Annotations stay outside, so the field keeps its title, description and default.
        outer = {
            key: field_schema.pop(key) for key in ("title", "description", "default") if key in field_schema
        }
        properties[info.alias or name] = {"anyOf": [field_schema, {"type": "null"}], **outer}
    rules: dict[str, Any] = getattr(model, "schema_rules", {})
    schema.update(rules)


class ApiModel(BaseModel):
    """Base of request bodies: unknown fields are errors (a typo must not be silently ignored)."""

    # strict: JSON types are not coerced ("5" is not a score, 5 is not a subject).
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_request_body_schema)
    # JSON Schema keywords (oneOf, anyOf) stating the rules between fields that a model validator or the
    # service enforces, so that the OpenAPI document tells clients every rule a body is checked against.
    schema_rules: ClassVar[dict[str, Any]] = {}

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        # Clients (the Rasa actions) send unfilled slots as null: for an optional field that means "not
        # given", so the field's default applies. A required field stays null and fails validation.
        if isinstance(data, dict):
            optional = {name for name, info in cls.model_fields.items() if not info.is_required()}
            return {key: value for key, value in data.items() if not (value is None and key in optional)}
        return data


class QueryModel(BaseModel):
    """Base of query-string models: values arrive as text, so "20" must become 20 (lax mode)."""

    model_config = ConfigDict(extra="forbid")


class EmptyQuery(QueryModel):
    """The query of a route that takes no parameters: any given one is unknown (400), as everywhere."""


class ResponseModel(BaseModel):
    """Base of response bodies, built from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


_UNSTORABLE_MESSAGES: dict[UnstorableReason, str] = {
    "nul_character": "must not contain NUL (\\u0000) characters",
    "invalid_unicode": "must be valid Unicode text",
}


def _storable_text(value: str) -> str:
    # Refused here as bad input (400) rather than failing inside the database driver (500).
    reason = unstorable_reason(value)
    if reason is not None:
        raise PydanticCustomError(reason, _UNSTORABLE_MESSAGES[reason])
    return value


# What the OpenAPI document can state of these checks, as JSON Schema `pattern`s: no NUL character; and, for a
# string that must keep at least one character once trimmed, one character that trimming keeps. pydantic trims
# Unicode White_Space (Rust's char::is_whitespace), listed here: JSON Schema's `\s` is another set.
_TRIMMED_WHITESPACE = "\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NO_NUL_PATTERN = "^[^\\u0000]*$"
NOT_BLANK_NO_NUL_PATTERN = f"^[^\\u0000]*[^\\u0000{_TRIMMED_WHITESPACE}][^\\u0000]*$"


@dataclass(frozen=True)
class _UntrimmedLength:
    max_length: int

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str) and len(value) > self.max_length:
            raise PydanticKnownError("string_too_long", {"max_length": self.max_length})
        return value


@dataclass(frozen=True)
class _Storable:
    """Checks a string storable in every database, and says so in the field's JSON Schema, so that a client
    (or a fuzzer) that follows the document never sends what the server refuses."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        constrained = handler(source)
        checked = core_schema.no_info_after_validator_function(_storable_text, constrained)
        max_length = constrained.get("max_length") if constrained.get("type") == "str" else None
        if max_length is None:
            return checked
        # The document's maxLength is of the text as sent; pydantic counts it after trimming, so a string one
        # space too long would be accepted though the document refuses it. Counted before trimming here.
        return core_schema.no_info_before_validator_function(_UntrimmedLength(max_length), checked)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        # Every storable string with a minimum length is trimmed() first: blank text is refused as too short.
        blank_refused = json_schema.get("minLength", 0) >= 1
        json_schema["pattern"] = NOT_BLANK_NO_NUL_PATTERN if blank_refused else NO_NUL_PATTERN
        return json_schema


# Use as Annotated[str, trimmed(max_length), STORABLE]: trimmed of surrounding whitespace, then
# min_length..max_length characters, then checked to be storable in every database.
STORABLE = _Storable()


def trimmed(max_length: int, min_length: int = 1) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


# WHATWG HTML's "valid e-mail address" with at least one dot in the domain: strict enough to catch typos,
# loose enough for real addresses (the email-validator package is not a dependency).
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def _email_address(value: str) -> str:
    local, _, _domain = value.partition("@")
    if (
        len(value) > 254
        or len(local) > 64
        or not _EMAIL_RE.match(value)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise PydanticCustomError("email", "value is not a valid email address")
    # Stored lower-cased so one person is one customer whatever the capitalisation they type.
    return value.lower()


EmailAddress = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=254),
    BeforeValidator(_UntrimmedLength(254)),
    AfterValidator(_email_address),
    Field(json_schema_extra={"format": "email"}),
]
SenderId = Annotated[str, trimmed(200), STORABLE]
Channel = Annotated[str, trimmed(50), STORABLE]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
# A list endpoint's query asks for `limit` rows (default 20, at most 100) from `offset`.
PageLimit = Annotated[int, Field(ge=1, le=100)]
PageOffset = Annotated[int, Field(ge=0, le=MAX_ID)]
