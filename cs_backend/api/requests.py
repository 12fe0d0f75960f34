"""Request parsing shared by the route modules: JSON bodies, query strings, path ids, Idempotency-Key.

Every failure becomes errors.InvalidRequest (400) whose `fields` names each bad field with a readable message,
so bad input can never reach the database and turn into a 500; a body not declared as JSON is a 415.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from cs_backend.api.errors import InvalidRequest, NotFound, UnsupportedMediaType, error_fields
from cs_backend.api.idempotency import IdempotencyKey, request_fingerprint
from cs_backend.api.types import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_ID,
)

_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)

ModelT = TypeVar("ModelT", bound=BaseModel)
JSON_MEDIA_TYPE = "application/json"


def _json_number(text: str) -> float | int:
    """A JSON number with a fraction or exponent: JSON Schema (so the OpenAPI document) counts 6.0 and 6e0
    as the integer 6, so an integer field accepts them; other values stay floats."""
    value = float(text)
    return int(value) if value.is_integer() else value


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object: 415 unless declared `application/json`, 400 unless a JSON object.
    Bodies over the size limit raise 413 in request.read()."""
    if request.content_type != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(
            f"request body must be {JSON_MEDIA_TYPE}", {"Content-Type": f"must be {JSON_MEDIA_TYPE}"}
        )
    body = await request.read()
    if not body.strip():
        raise InvalidRequest("request body must be a JSON object", {"body": "the body is empty"})
    try:
        data = json.loads(body, parse_float=_json_number)
    except UnicodeDecodeError:
        raise InvalidRequest("malformed JSON", {"body": "the body is not UTF-8 text"}) from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(
            "malformed JSON", {"body": f"{error.msg} at line {error.lineno} column {error.colno}"}
        ) from None
    except RecursionError:
        raise InvalidRequest("malformed JSON", {"body": "the JSON is nested too deeply"}) from None
    except ValueError:
        # Python refuses to read an integer of more than 4,300 digits (sys.get_int_max_str_digits).
        raise InvalidRequest("malformed JSON", {"body": "a number in the JSON is too long"}) from None
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object", {"body": "must be a JSON object"})
    return data


async def parse_body(request: web.Request, model: type[ModelT]) -> ModelT:
    data = await read_json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidRequest("invalid request body", error_fields(error)) from None


async def parse_idempotent_body(
    request: web.Request, model: type[ModelT]
) -> tuple[ModelT, IdempotencyKey | None]:
    """The validated body of a create, and its Idempotency-Key (None when absent) with the fingerprint of the
    request: the route (method and path template) and the validated body. The header is checked first, as a
    bad header is refused whatever the body."""
    key = read_idempotency_key(request)
    data = await parse_body(request, model)
    if key is None:
        return data, None
    # The path template (/api/tickets), as the route is declared; a request is matched to one.
    resource = request.match_info.route.resource
    route = f"{request.method} {resource.canonical if resource is not None else request.path}"
    return data, IdempotencyKey(key, request_fingerprint(route, data))


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
    # The length first: int() refuses more than 4,300 digits, and no id has more digits than MAX_ID.
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_ID)) or not 1 <= int(raw) <= MAX_ID:
        raise NotFound(f"{what} {raw!r} not found")
    return int(raw)


def read_idempotency_key(request: web.Request) -> str | None:
    """The Idempotency-Key header (IDEMPOTENCY_KEY_PATTERN: 1-200 visible ASCII characters, spaces allowed
    inside, the header's outer spaces ignored), None when absent."""
    if IDEMPOTENCY_HEADER not in request.headers:
        return None
    value = request.headers[IDEMPOTENCY_HEADER]
    # The key is stored (a unique column) and compared byte for byte: plain ASCII, no look-alikes.
    if _IDEMPOTENCY_KEY.fullmatch(value) is None:
        raise InvalidRequest(
            "invalid Idempotency-Key header",
            {IDEMPOTENCY_HEADER: f"must be 1-{IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII characters"},
        )
    return value.strip(" \t")
