"""Request parsing shared by the route modules: JSON bodies, query strings, path ids, Idempotency-Key.

Every failure becomes errors.InvalidRequest (400) whose `fields` names each bad field with a readable message,
so bad input can never reach the database and turn into a 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cs_backend.errors import InvalidRequest, NotFound

# Primary keys are PostgreSQL `integer`; a larger id cannot exist, and passing it on would be a driver error.
MAX_ID = 2**31 - 1
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 200

ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiModel(BaseModel):
    """Base of request bodies: unknown fields are errors (a typo must not be silently ignored)."""

    # strict: JSON types are not coerced ("5" is not a score, 5 is not a subject).
    model_config = ConfigDict(extra="forbid", strict=True)

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


def _storable_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and lone surrogates (valid in JSON "\ud800") cannot be encoded as
    # UTF-8: both would fail inside the driver, so they are refused here as bad input.
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL (\\u0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("invalid_unicode", "must be valid Unicode text") from None
    return value


# Use as Annotated[str, trimmed(max_length), STORABLE]: trimmed of surrounding whitespace, then
# min_length..max_length characters, then checked to be storable in every database.
STORABLE = AfterValidator(_storable_text)


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
    AfterValidator(_email_address),
    Field(json_schema_extra={"format": "email"}),
]
SenderId = Annotated[str, trimmed(200), STORABLE]
Channel = Annotated[str, trimmed(50), STORABLE]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


_FRIENDLY_MESSAGES = {
    "missing": "this field is required",
    "extra_forbidden": "unknown field",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "dict_type": "must be an object",
    "model_type": "must be an object",
}


def error_fields(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> dict[str, str]:
    """Map pydantic errors to {dotted field path: message}, the first message per field."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        loc = prefix + tuple(item["loc"])
        name = ".".join(str(part) for part in loc) or "body"
        fields.setdefault(name, _FRIENDLY_MESSAGES.get(item["type"], item["msg"]))
    return fields


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or 400. Bodies over the size limit raise 413 in request.read()."""
    body = await request.read()
    if not body.strip():
        raise InvalidRequest("request body must be a JSON object", {"body": "the body is empty"})
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise InvalidRequest("malformed JSON", {"body": "the body is not UTF-8 text"}) from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(
            "malformed JSON", {"body": f"{error.msg} at line {error.lineno} column {error.colno}"}
        ) from None
    except RecursionError:
        raise InvalidRequest("malformed JSON", {"body": "the JSON is nested too deeply"}) from None
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object", {"body": "must be a JSON object"})
    return data


async def parse_body(request: web.Request, model: type[ModelT]) -> ModelT:
    data = await read_json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidRequest("invalid request body", error_fields(error)) from None


def parse_query(query: Mapping[str, str], model: type[ModelT]) -> ModelT:
    """Validate the query string; empty values count as absent (`?status=` means "any status")."""
    values: dict[str, str] = {}
    fields: dict[str, str] = {}
    getall = getattr(query, "getall", None)
    for name in query:
        given = getall(name) if getall is not None else [query[name]]
        if len(given) > 1:
            fields[name] = "give this parameter at most once"
        elif given[0] != "":
            values[name] = given[0]
    if not fields:
        try:
            return model.model_validate(values)
        except ValidationError as error:
            fields = error_fields(error)
    raise InvalidRequest("invalid query parameters", fields)


def parse_id(request: web.Request, what: str, name: str = "id") -> int:
    """The integer id in the URL path; anything that cannot be an id is simply not found."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise NotFound(f"{what} {raw!r} not found")
    return int(raw)


def _printable_utf8(value: str) -> bool:
    if not value.isprintable():
        return False
    try:
        value.encode("utf-8")  # undecodable header bytes arrive as lone surrogates
    except UnicodeEncodeError:
        return False
    return True


def idempotency_key(request: web.Request) -> str | None:
    """The Idempotency-Key header (1-200 printable characters, outer spaces ignored), None when absent."""
    if IDEMPOTENCY_HEADER not in request.headers:
        return None
    key = request.headers[IDEMPOTENCY_HEADER].strip()
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH or not _printable_utf8(key):
        raise InvalidRequest(
            "invalid Idempotency-Key header",
            {IDEMPOTENCY_HEADER: f"must be 1-{IDEMPOTENCY_KEY_MAX_LENGTH} printable characters"},
        )
    return key
