"""The OpenAPI 3.1 document, built from the registered routes (api/registry.py) and the pydantic schemas.

Each route's metadata (summary, body, query, responses) is recorded next to the aiohttp route, so the
document cannot forget a route. Schemas come from pydantic's JSON Schema output (OpenAPI 3.1 uses JSON Schema
2020-12 as is), with $refs under #/components/schemas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

import cs_backend
from cs_backend.api.registry import PRINCIPALS, Access, ApiRoute
from cs_backend.api.schemas import ErrorResponse
from cs_backend.api.types import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_PATTERN, MAX_ID
from cs_backend.auth.cookies import CSRF_HEADER, SESSION_COOKIE
from cs_backend.auth.signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

REF_TEMPLATE = "#/components/schemas/{model}"

# How each `access` of api/registry.py is stated: the alternatives among these schemes (none for public); a
# bearer session's entry lists the roles allowed (OpenAPI 3.1 lets non-OAuth schemes list role names).
SERVICE_SCHEME = "serviceSignature"
BEARER_SCHEME = "bearerSession"
COOKIE_SCHEME = "cookieSession"
_SECURITY_SCHEMES = {
    SERVICE_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": SIGNATURE_HEADER,
        "description": (
            f"A signed service call: `{SIGNATURE_HEADER}: v1=<hex HMAC-SHA256>` over the method, the path "
            f"with its query string, `{TIMESTAMP_HEADER}` (Unix seconds, within 300 s of the server clock), "
            f"`{NONCE_HEADER}` (new for every request) and the SHA-256 of the body, with the service secret; "
            'a signature is accepted once. docs/API_CONTRACT.md, "Authentication", gives the rules.'
        ),
    },
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "A signed-in agent or admin: `Authorization: Bearer <token>` with the token of POST "
            "/api/auth/login, until the session expires or is ended (POST /api/auth/logout)."
        ),
    },
    COOKIE_SCHEME: {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": (
            "A browser page's session: the httpOnly cookie set by POST /api/auth/cookie-login. A POST, "
            f"PATCH, PUT or DELETE also needs the `{CSRF_HEADER}` header (the csrf_token of the sign-in, "
            "also in the `cs_csrf` cookie) and no foreign Origin, else 403."
        ),
    },
}


def security_requirements(access: Access) -> list[dict[str, list[str]]]:
    """The operation's `security`: any one of the listed schemes is enough."""
    if not isinstance(access, frozenset):  # PUBLIC
        return []
    requirements: list[dict[str, list[str]]] = []
    if "service" in access:
        requirements.append({SERVICE_SCHEME: []})
    roles: list[str] = [
        principal for principal in PRINCIPALS if principal != "service" and principal in access
    ]
    if roles:
        requirements.append({BEARER_SCHEME: roles})
        requirements.append({COOKIE_SCHEME: roles})
    return requirements


_ERROR_DESCRIPTIONS = {
    400: "Malformed JSON or invalid input; `fields` names each bad field or parameter.",
    401: "No valid credential (a signed service call or a live bearer session: the message names the header "
    "that is wrong), or, signing in, a wrong email or password.",
    403: "Authenticated, but the route is not open to this caller's role; or a cookie session's unsafe "
    f"request without the right {CSRF_HEADER} header, or from another Origin.",
    404: "Unknown resource.",
    409: "The resource's state does not allow this change.",
    413: "Request body larger than 64 KiB.",
    415: "The body is not declared as application/json.",
    422: f"The {IDEMPOTENCY_HEADER} was first sent with a different request; `fields` names the header. "
    "Nothing is changed.",
    429: "Over a rate limit (per client address, account or service; sign-in attempts per address and "
    "email) or a cap: try again after Retry-After seconds.",
    500: "Internal error (details only in the server log).",
    503: "The database is unavailable (down, restarting, out of connections, or the write kept conflicting "
    "with concurrent ones; nothing was committed), or this process is at a capacity: try again after "
    "Retry-After seconds.",
}
# Over a rate limit (cs_backend/ratelimit) or with the database unavailable, the answer says when to retry.
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the request may succeed.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation", ref_template=REF_TEMPLATE)
    required = set(schema.get("required", []))
    parameters = []
    for name, property_schema in schema.get("properties", {}).items():
        property_schema = dict(property_schema)
        description = property_schema.pop("description", None)
        property_schema.pop("title", None)
        # `X | None = None` in the model means "may be omitted"; a query value is never JSON null.
        variants = property_schema.get("anyOf", [])
        non_null = [variant for variant in variants if variant != {"type": "null"}]
        if len(variants) == 2 and len(non_null) == 1:
            property_schema = {**non_null[0]}
        elif property_schema.get("default") is None:
            property_schema.pop("default", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": property_schema,
        }
        if name not in required:
            # api/requests.py parse_query: `?status=` is the parameter left out, not an invalid value.
            parameter["allowEmptyValue"] = True
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def build_openapi(routes: Sequence[ApiRoute], server_url: str | None = None) -> dict[str, Any]:
    # All models in one call, so shared sub-schemas are emitted once and named consistently.
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorResponse, "serialization")]
    for route in routes:
        if route.body is not None:
            wanted.append((route.body, "validation"))
        for response in route.responses.values():
            if response.model is not None:
                wanted.append((response.model, "serialization"))
    wanted = list(dict.fromkeys(wanted))
    refs, definitions = models_json_schema(wanted, ref_template=REF_TEMPLATE)

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        parameters: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            }
            for name in route.path_parameters
        ]
        if route.query is not None:
            parameters.extend(_query_parameters(route.query))
        if route.idempotency_key:
            parameters.append(
                {
                    "name": IDEMPOTENCY_HEADER,
                    "in": "header",
                    "required": False,
                    "description": "Repeat a request safely: the same key with the same request again "
                    "returns 200 with the resource first created with it, instead of creating another; the "
                    "key reused with a different request (route and body, compared once validated) is a 422 "
                    "that changes nothing. A key is kept as long as the resource it created.",
                    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                }
            )
        responses: dict[str, Any] = {}
        for status, response in sorted(route.responses.items()):
            entry: dict[str, Any] = {"description": response.description}
            if response.model is not None:
                entry["content"] = {response.media_type: {"schema": refs[(response.model, "serialization")]}}
            elif response.media_type != "application/json":
                entry["content"] = {response.media_type: {"schema": {"type": "string"}}}
            responses[str(status)] = entry
        # Every route with a body refuses other media types (api/requests.py), so none can forget the 415.
        body_errors = {415} if route.body is not None else set()
        # And every route taking an Idempotency-Key refuses it reused with another request (db.create_once).
        key_errors = {422} if route.idempotency_key else set()
        # Likewise the auth middleware refuses every call without a credential to a protected route, and
        # callers a route is not open to (403 where some principal is left out).
        auth_errors: set[int] = set()
        if isinstance(route.access, frozenset):
            auth_errors = {401} if route.access >= set(PRINCIPALS) else {401, 403}
        # Every route can be over a rate limit (429), fail (500), or find the database unavailable (503,
        # api/middlewares.py); a route that documents its own 503 (readiness) keeps it.
        errors = {*route.errors, *body_errors, *key_errors, *auth_errors, 429, 500, 503} - set(
            route.responses
        )
        for status in sorted(errors):
            responses[str(status)] = {
                "description": _ERROR_DESCRIPTIONS.get(status, "Error."),
                "content": {"application/json": {"schema": refs[(ErrorResponse, "serialization")]}},
            }
            if status in (429, 503):
                responses[str(status)]["headers"] = _RETRY_AFTER
        operation: dict[str, Any] = {
            "operationId": route.handler.__name__,
            "summary": route.summary,
            "tags": [route.tag],
            "security": security_requirements(route.access),
            "responses": responses,
        }
        if route.description:
            operation["description"] = route.description
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "cs_backend",
            "version": cs_backend.__version__,
            "description": "Customer-support backend: customers, conversations, tickets, feedback and live "
            "events. Human summary: docs/API_CONTRACT.md.",
        },
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {}), "securitySchemes": _SECURITY_SCHEMES},
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
