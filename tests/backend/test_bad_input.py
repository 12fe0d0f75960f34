"""Bad input never writes anything and never answers 500; errors are the contract's JSON, without traces."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from cs_backend.api.registry import ApiRoute
from cs_backend.app_keys import API_ROUTES
from cs_backend.config import Settings
from cs_backend.main import create_app

from .helpers import assert_error, bearer_of_new_account, ticket_payload

POST_ENDPOINTS = ["/api/customers", "/api/conversations", "/api/tickets", "/api/feedback"]
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        b"{bad json",
        b"",
        b"   ",
        b"[1, 2]",
        b'"text"',
        b"null",
        b"42",
        b'{"a": 1',
        '{"x": "\u00e9"}'.encode("latin-1"),
        b"\xff\xfe{}",
        b'{"score": ' + b"9" * 5000 + b"}",  # an integer Python refuses to read (over 4,300 digits)
    ],
)
async def test_malformed_or_non_object_bodies_are_400(
    client: TestClient[Any, Any], counts: Any, path: str, body: bytes
) -> None:
    before = await counts(client)
    response = await client.post(path, data=body, headers={"Content-Type": "application/json"})
    await assert_error(response, 400, {"body"})
    assert await counts(client) == before


def routes_with_a_body() -> list[Any]:
    routes = create_app(Settings())[API_ROUTES]
    return [
        pytest.param(route, id=f"{route.method} {route.path}") for route in routes if route.body is not None
    ]


@pytest.mark.parametrize("route", routes_with_a_body())
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",  # what a cross-site <form enctype="text/plain"> sends, with no CORS preflight
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,  # no Content-Type at all
    ],
)
async def test_every_body_that_is_not_declared_json_is_415_and_writes_nothing(
    client: TestClient[Any, Any], counts: Any, route: ApiRoute, content_type: str | None
) -> None:
    ticket = await (await client.post("/api/tickets", json=ticket_payload())).json()
    path = route.path.replace("{id}", str(ticket["id"]))
    body = json.dumps(ticket_payload()).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    if "service" not in route.access:
        # An account route: the client's service signature gets 403 there; an admin's session is let in.
        headers.update(await bearer_of_new_account(client, "admin"))
    before = await counts(client)
    response = await client.request(
        route.method, path, data=body, headers=headers, skip_auto_headers=["Content-Type"]
    )
    await assert_error(response, 415, {"Content-Type"})
    assert await counts(client) == before


async def test_json_with_a_charset_is_json(client: TestClient[Any, Any]) -> None:
    body = json.dumps(ticket_payload()).encode()
    response = await client.post(
        "/api/tickets", data=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status == 201, await response.text()


async def test_patch_with_malformed_body_is_400(client: TestClient[Any, Any]) -> None:
    ticket = await (await client.post("/api/tickets", json=ticket_payload())).json()
    response = await client.patch(f"/api/tickets/{ticket['id']}", data=b"{", headers=JSON)
    await assert_error(response, 400, {"body"})


async def test_every_bad_field_is_named_at_once(client: TestClient[Any, Any], counts: Any) -> None:
    body = {
        "description": 42,
        "email": "nobody",
        "priority": "asap",
        "subject": ["a"],
        "sender_id": "",
        "channel": "c" * 51,
        "extra": True,
        "other": {"nested": 1},
    }
    error = await assert_error(
        await client.post("/api/tickets", json=body),
        400,
        {"description", "email", "priority", "subject", "sender_id", "channel", "extra", "other"},
    )
    assert error["message"] == "invalid request body"
    assert error["fields"]["extra"] == "unknown field"
    assert error["fields"]["description"] == "must be a string"
    assert await counts(client) == {"customers": 0, "conversations": 0, "tickets": 0, "feedback": 0}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"description": ...}, "description"),
        ({"email": ...}, "email"),
        ({"description": "   \n  "}, "description"),
        ({"description": "d" * 5001}, "description"),
        ({"description": "null \x00 byte"}, "description"),
        ({"description": "lone \ud800 surrogate"}, "description"),
        ({"email": "a@b.c" + "c" * 300}, "email"),
        ({"email": None}, "email"),
        ({"description": None}, "description"),
        ({"subject": "s" * 201}, "subject"),
        ({"sender_id": "s" * 201}, "sender_id"),
        ({"priority": 1}, "priority"),
        ({"channel": ""}, "channel"),
    ],
)
async def test_ticket_field_validation(
    client: TestClient[Any, Any], counts: Any, overrides: dict[str, Any], field: str
) -> None:
    before = await counts(client)
    await assert_error(await client.post("/api/tickets", json=ticket_payload(**overrides)), 400, {field})
    assert await counts(client) == before


async def test_a_length_limit_counts_the_text_as_sent_and_stores_it_trimmed(
    client: TestClient[Any, Any], counts: Any
) -> None:
    # The document's maxLength is of the JSON string: whitespace around it counts, as a client reading the
    # document (or a fuzzer) expects; what is stored is trimmed.
    response = await client.post("/api/tickets", json=ticket_payload(description="  " + "d" * 4996 + "  "))
    assert response.status == 201
    assert (await response.json())["description"] == "d" * 4996
    before = await counts(client)
    padded = ticket_payload(description=" " + "d" * 5000, channel="\f" + "c" * 50)
    await assert_error(await client.post("/api/tickets", json=padded), 400, {"description", "channel"})
    assert await counts(client) == before


async def test_non_ascii_text_round_trips(client: TestClient[Any, Any]) -> None:
    description = "Mon colis n'est pas arrivé 📦 — 注文"
    response = await client.post("/api/tickets", json=ticket_payload(description=description))
    assert response.status == 201
    assert (await response.json())["description"] == description


@pytest.mark.parametrize("path", POST_ENDPOINTS)
async def test_body_over_64_kib_is_413_and_writes_nothing(
    client: TestClient[Any, Any], counts: Any, path: str
) -> None:
    before = await counts(client)
    body = json.dumps(ticket_payload(description="x" * (64 * 1024))).encode()
    await assert_error(await client.post(path, data=body, headers={"Content-Type": "application/json"}), 413)
    assert await counts(client) == before


async def test_chunked_body_over_64_kib_is_413(client: TestClient[Any, Any], counts: Any) -> None:
    async def chunks() -> Any:  # no Content-Length: the limit applies while reading
        for _ in range(70):
            yield b" " * 1024
        yield json.dumps(ticket_payload()).encode()

    response = await client.post("/api/tickets", data=chunks(), headers={"Content-Type": "application/json"})
    await assert_error(response, 413)
    assert (await counts(client))["tickets"] == 0


async def test_body_of_exactly_64_kib_is_accepted(client: TestClient[Any, Any]) -> None:
    body = json.dumps(ticket_payload()).encode()
    body = body[:-1] + b" " * (64 * 1024 - len(body)) + b"}"
    assert len(body) == 64 * 1024
    response = await client.post("/api/tickets", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 201, await response.text()


async def test_unknown_route_is_json_404(client: TestClient[Any, Any]) -> None:
    await assert_error(await client.get("/api/nothing-here"), 404)
    await assert_error(await client.get("/api/tickets/1/comments"), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/tickets/1"),
        ("PUT", "/api/tickets"),
        ("POST", "/api/tickets/1"),
        ("PATCH", "/api/feedback"),
        ("POST", "/health/live"),
    ],
)
async def test_wrong_method_is_json_405_with_allow(
    client: TestClient[Any, Any], method: str, path: str
) -> None:
    response = await client.request(method, path)
    await assert_error(response, 405)
    assert response.headers["Allow"]


async def test_unexpected_errors_are_a_bare_500(aiohttp_client: Any, settings: Settings) -> None:
    app = create_app(settings)

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret detail /etc/passwd")

    app.router.add_get("/api/broken", broken)
    client = await aiohttp_client(app)
    response = await client.get("/api/broken")
    assert response.status == 500
    assert await response.json() == {"error": {"status": 500, "message": "internal error"}}
    assert "secret" not in await response.text()


async def test_deeply_nested_json_is_400(client: TestClient[Any, Any]) -> None:
    body = b"[" * 30_000 + b"]" * 30_000  # within 64 KiB, far deeper than the parser recurses
    await assert_error(await client.post("/api/tickets", data=body, headers=JSON), 400, {"body"})


ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    1.5,
    "",
    " ",
    "x" * 6000,
    "\x00",
    [],
    {},
    {"a": [1]},
]
VALID_BODIES: dict[str, dict[str, Any]] = {
    "/api/customers": {"email": "odd@example.com", "name": "Odd"},
    "/api/conversations": {"sender_id": "odd", "channel": "rest", "email": "odd@example.com"},
    "/api/tickets": {
        "description": "d",
        "email": "odd@example.com",
        "priority": "low",
        "subject": "s",
        "sender_id": "odd",
        "channel": "rest",
    },
    "/api/feedback": {
        "kind": "csat",
        "score": 3,
        "comment": "c",
        "sender_id": "odd",
        "channel": "rest",
        "intent": "i",
        "resolver": "bot",
    },
}


@pytest.mark.parametrize("path", POST_ENDPOINTS)
async def test_odd_values_in_any_field_never_cause_a_500(client: TestClient[Any, Any], path: str) -> None:
    """Every field of every body, given every JSON type: a clear answer (2xx or 400), never a 500."""
    for field in VALID_BODIES[path]:
        for value in ODD_VALUES:
            body = {**VALID_BODIES[path], field: value}
            response = await client.post(path, json=body)
            text = await response.text()
            assert response.status in {200, 201, 400}, (field, value, text)
            if response.status == 400:
                assert field in (await response.json())["error"]["fields"], (field, value, text)


@pytest.mark.parametrize("raw_id", ["9" * 20, "9" * 5000])
async def test_an_id_too_long_to_be_one_is_404(client: TestClient[Any, Any], raw_id: str) -> None:
    response = await client.get(f"/api/tickets/{raw_id}")
    await assert_error(response, 404)
