"""GET /api/openapi.json documents every route, with schemas resolvable under components/schemas."""

from __future__ import annotations

from typing import Any

from aiohttp import hdrs
from aiohttp.test_utils import TestClient


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
            assert any(status.startswith("2") for status in operation["responses"]), (path, method)
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
    assert ticket_create["properties"]["priority"]["enum"] == ["low", "normal", "high", "urgent"]

    listing = document["paths"]["/api/tickets"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "status",
        "priority",
        "email",
        "sender_id",
        "channel",
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
