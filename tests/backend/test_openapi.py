"""GET /api/openapi.json documents every route, with schemas resolvable under components/schemas."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from aiohttp import hdrs
from aiohttp.test_utils import TestClient

from .helpers import assert_error


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


async def _document(client: TestClient[Any, Any]) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    return await response.json()  # type: ignore[no-any-return]


async def test_every_registered_api_route_is_documented(client: TestClient[Any, Any]) -> None:
    document = await _document(client)
    assert document["openapi"].startswith("3.1")
    registered = set()
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == hdrs.METH_HEAD or not (path.startswith("/api/") or path.startswith("/health/")):
            continue
        registered.add((path, route.method.lower()))
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert registered, "no routes found"
    assert registered <= documented, registered - documented
    assert {
        ("/api/tickets", "post"),
        ("/api/tickets", "get"),
        ("/api/tickets/{id}", "get"),
        ("/api/tickets/{id}", "patch"),
        ("/api/feedback", "post"),
        ("/api/feedback", "get"),
        ("/api/customers", "post"),
        ("/api/customers/{id}", "get"),
        ("/api/conversations", "post"),
        ("/api/conversations/{id}", "get"),
        ("/api/events", "get"),
        ("/api/openapi.json", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
    } <= documented


async def test_schemas_errors_and_parameters(client: TestClient[Any, Any]) -> None:
    document = await _document(client)
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref

    operation_ids = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            operation_ids.append(operation["operationId"])
            assert operation["summary"]
            assert "500" in operation["responses"], (path, method)
            # A success; a websocket's is 101 Switching Protocols (GET /api/console/ws).
            assert any(status.startswith("2") or status == "101" for status in operation["responses"]), (
                path,
                method,
            )
            if "requestBody" in operation:
                assert "400" in operation["responses"] and "413" in operation["responses"], (path, method)
            if "{id}" in path:
                assert "404" in operation["responses"]
                assert {"name": "id", "in": "path"}.items() <= operation["parameters"][0].items()
    assert len(operation_ids) == len(set(operation_ids))

    create = document["paths"]["/api/tickets"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TicketCreate"
    }
    assert set(create["responses"]) >= {"200", "201", "400", "413", "500"}
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    ticket_create = schemas["TicketCreate"]
    assert ticket_create["additionalProperties"] is False
    assert set(ticket_create["required"]) == {"description", "email"}
    assert ticket_create["properties"]["priority"]["anyOf"] == [
        {"enum": ["low", "normal", "high", "urgent"], "type": "string"},
        {"type": "null"},
    ]

    listing = document["paths"]["/api/tickets"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "status",
        "priority",
        "email",
        "sender_id",
        "channel",
        "scope",
        "limit",
        "offset",
    }
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}

    patch = document["paths"]["/api/tickets/{id}"]["patch"]
    assert "409" in patch["responses"]
    assert schemas["ErrorResponse"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert "text/event-stream" in document["paths"]["/api/events"]["get"]["responses"]["200"]["content"]
    feedback_score = schemas["FeedbackCreate"]["properties"]["score"]
    assert (feedback_score["minimum"], feedback_score["maximum"]) == (1, 7)


def _body_validator(document: dict[str, Any], method: str, path: str) -> Any:
    operation = document["paths"][path][method.lower()]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})


# Bodies on either side of a rule the server checks, each with whether the document accepts it. The server
# must agree: a 400 exactly for the bodies the document refuses (a valid body may still name a customer or
# ticket that does not exist: 404).
_IDENTITY_BODIES = [
    ({"customer_id": 1}, True),
    ({"customer_id": 1, "sender_id": None, "channel": None}, True),
    ({"sender_id": "s-1", "channel": "rest"}, True),
    ({"sender_id": "s-1", "channel": "rest", "customer_id": None}, True),
    ({}, False),
    ({"customer_id": None}, False),
    ({"sender_id": "s-1"}, False),
    ({"channel": "rest"}, False),
    ({"customer_id": 1, "sender_id": "s-1", "channel": "rest"}, False),
    ({"customer_id": 1, "channel": "rest"}, False),
]
BODY_RULES = [
    *(("POST", "/api/churn/signals", {"kind": "cancel_request", **who}, ok) for who, ok in _IDENTITY_BODIES),
    *(("POST", "/api/onboarding/progress", {"step": "sign_up", **who}, ok) for who, ok in _IDENTITY_BODIES),
    # An optional field given as null is the field left out (its default applies).
    ("POST", "/api/tickets", {"description": "d", "email": "a@example.com", "channel": None}, True),
    ("POST", "/api/tickets", {"description": "d", "email": "a@example.com", "priority": None}, True),
    ("POST", "/api/tickets", {"description": None, "email": "a@example.com"}, False),
    ("POST", "/api/feedback", {"kind": "ces", "score": 6, "resolver": None, "channel": None}, True),
    # The score's range is the kind's.
    ("POST", "/api/feedback", {"kind": "csat", "score": 5}, True),
    ("POST", "/api/feedback", {"kind": "csat", "score": 6}, False),
    ("POST", "/api/feedback", {"kind": "ces", "score": 7}, True),
    ("POST", "/api/feedback", {"kind": "ces", "score": 8}, False),
    ("POST", "/api/feedback", {"kind": "csat", "score": 0}, False),
    # JSON Schema counts 5.0 as the integer 5; 5.5 is no integer.
    ("POST", "/api/feedback", {"kind": "csat", "score": 5.0}, True),
    ("POST", "/api/feedback", {"kind": "csat", "score": 5.5}, False),
    ("POST", "/api/feedback", {"kind": "csat", "score": 1, "ticket_id": 1e3}, True),
    # Text the databases cannot store (NUL) is refused, and the document says so (a `pattern`).
    ("POST", "/api/tickets", {"description": "d\u0000", "email": "a@example.com"}, False),
    ("POST", "/api/tickets", {"description": "d", "email": "a@example.com", "sender_id": "s\u0000"}, False),
    ("POST", "/api/auth/login", {"email": "a\u0000@example.com", "password": "p"}, False),
    ("POST", "/api/auth/cookie-login", {"email": "a\u0000@example.com", "password": "p"}, False),
    # Text is trimmed before its length is checked: blank text is too short, and the document says so.
    ("POST", "/api/tickets", {"description": " \u3000\t", "email": "a@example.com"}, False),
    ("POST", "/api/tickets", {"description": " d ", "email": "a@example.com"}, True),
    ("POST", "/api/feedback", {"kind": "csat", "score": 4, "comment": " "}, True),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "documented_valid"),
    [pytest.param(*rule, id=f"{rule[0]} {rule[1]} {rule[2]}") for rule in BODY_RULES],
)
async def test_the_document_states_every_rule_of_a_body(
    client: TestClient[Any, Any], method: str, path: str, body: dict[str, Any], documented_valid: bool
) -> None:
    validator = _body_validator(await _document(client), method, path)
    assert validator.is_valid(body) == documented_valid
    response = await client.request(method, path, json=body)
    if documented_valid:
        assert response.status in (200, 201, 404), await response.text()
    else:
        await assert_error(response, 400)


async def test_an_account_change_needs_role_or_disabled_in_the_document_too(
    client: TestClient[Any, Any],
) -> None:
    # The route is the admins' (tests/backend/test_accounts.py sends these): the document's side here.
    validator = _body_validator(await _document(client), "PATCH", "/api/accounts/{id}")
    assert validator.is_valid({"role": "agent"}) and validator.is_valid({"disabled": False, "role": None})
    assert not validator.is_valid({}) and not validator.is_valid({"role": None, "disabled": None})


async def test_an_empty_query_value_is_documented_as_the_parameter_left_out(
    client: TestClient[Any, Any],
) -> None:
    document = await _document(client)
    for operation in (
        operation for operations in document["paths"].values() for operation in operations.values()
    ):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                assert parameter.get("allowEmptyValue", False) is not parameter["required"], parameter
    listing = {p["name"]: p for p in document["paths"]["/api/tickets"]["get"]["parameters"]}
    assert listing["status"]["allowEmptyValue"] is True
    response = await client.get("/api/tickets?status=&sender_id=&limit=")
    assert response.status == 200, await response.text()
