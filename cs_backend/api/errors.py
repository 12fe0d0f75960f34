"""Errors a handler or service raises on purpose (middlewares.error_middleware turns them into JSON), and the
mapping of pydantic's validation errors to the `fields` of a 400.

Services raise these instead of aiohttp exceptions so they stay usable outside a request (and testable).
"""

from __future__ import annotations

from pydantic import ValidationError


class ApiError(Exception):
    """An error with an HTTP status and a message that is safe to show to the client."""

    status = 500

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        # Headers the answer carries besides the JSON body (Retry-After).
        self.headers: dict[str, str] = {}


class InvalidRequest(ApiError):
    """400: malformed body, or a value that fails validation (`fields` names each bad field)."""

    status = 400


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    """409: the request is valid but the resource's state does not allow it (e.g. closed → open)."""

    status = 409


class UnsupportedMediaType(ApiError):
    """415: a body that is not declared as JSON. Refusing it also stops cross-site form posts, which can only
    send text/plain, urlencoded or multipart bodies without a CORS preflight."""

    status = 415


def invalid_field(field: str, message: str) -> InvalidRequest:
    return InvalidRequest("invalid request body", {field: message})


class ServiceUnavailable(ApiError):
    """503: a dependency (database, Redis) cannot be reached right now, or this process is at its capacity;
    retrying after `retry_after_seconds` (the Retry-After header every 503 carries) may work."""

    status = 503

    def __init__(self, message: str, retry_after_seconds: int = 5) -> None:
        super().__init__(message)
        self.headers["Retry-After"] = str(max(1, retry_after_seconds))


class TooManyRequests(ApiError):
    """429: the caller is over a rate limit or a cap; `Retry-After` says in how many seconds to try again."""

    status = 429

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.headers["Retry-After"] = str(max(1, retry_after_seconds))


_FRIENDLY_MESSAGES = {
    "missing": "this field is required",
    "extra_forbidden": "unknown field",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "dict_type": "must be an object",
    "model_type": "must be an object",
}


def error_fields(error: ValidationError) -> dict[str, str]:
    """Map pydantic errors to {dotted field path: message}, the first message per field."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"]) or "body"
        fields.setdefault(name, _FRIENDLY_MESSAGES.get(item["type"], item["msg"]))
    return fields
