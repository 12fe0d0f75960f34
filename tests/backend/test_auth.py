"""Signed service calls (cs_backend/auth): every protected route of the registry refuses a request that is not
signed, signed wrongly, stale or replayed, and writes nothing then; public routes answer anyone.

The requests here are signed by `contract_signature`, written from docs/API_CONTRACT.md ("Authentication")
and not from cs_backend/auth/signing.py: the verifier is checked against the documented rules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from cs_backend.api.openapi import build_openapi
from cs_backend.api.registry import ApiRoute
from cs_backend.app_keys import API_ROUTES, DATABASE
from cs_backend.config import Settings, SettingsError
from cs_backend.db import Base
from cs_backend.main import create_app

from .helpers import assert_error, ticket_payload
from .service_signing import TEST_SERVICE_SECRET

JSON = {"Content-Type": "application/json"}


def contract_signature(
    secret: str, method: str, path_qs: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """docs/API_CONTRACT.md: the hex HMAC-SHA256, keyed with the secret's UTF-8 bytes, of the UTF-8 lines
    "v1", METHOD, path?query, timestamp, nonce, hex SHA-256 of the body, joined by "\\n"."""
    lines = ["v1", method.upper(), path_qs, timestamp, nonce, hashlib.sha256(body).hexdigest()]
    return hmac.new(secret.encode(), "\n".join(lines).encode(), hashlib.sha256).hexdigest()


def signed_headers(
    method: str,
    path_qs: str,
    body: bytes = b"",
    *,
    secret: str = TEST_SERVICE_SECRET,
    timestamp: float | None = None,
) -> dict[str, str]:
    stamp = str(int(time.time() if timestamp is None else timestamp))
    nonce = secrets.token_urlsafe(16)
    signature = contract_signature(secret, method, path_qs, stamp, nonce, body)
    return {"X-CS-Timestamp": stamp, "X-CS-Nonce": nonce, "X-CS-Signature": f"v1={signature}"}


def registered_routes() -> list[ApiRoute]:
    return create_app(Settings())[API_ROUTES]


def service_routes() -> list[Any]:
    """The routes open to the service (the others, open to people only: tests/backend/test_accounts.py)."""
    return [
        pytest.param(route, id=f"{route.method} {route.path}")
        for route in registered_routes()
        if route.access != "public" and "service" in route.access
    ]


# Public to the auth middleware, but guarded by their own credential (tests/backend/test_observability.py).
OWN_CREDENTIAL = {"/metrics"}


def public_reads() -> list[Any]:
    """The public GET routes (the other public route, signing in, is tested in test_accounts.py)."""
    return [
        pytest.param(route, id=f"{route.method} {route.path}")
        for route in registered_routes()
        if route.access == "public" and route.method == "GET" and route.path not in OWN_CREDENTIAL
    ]


def concrete_request(route: ApiRoute) -> tuple[str, bytes]:
    """A path for the route (ids filled in) and a JSON body if it takes one."""
    path = route.path
    for name in route.path_parameters:
        path = path.replace(f"{{{name}}}", "1")
    body = json.dumps(ticket_payload()).encode() if route.body is not None else b""
    return path, body


async def all_row_counts(client: TestClient[Any, Any]) -> dict[str, int]:
    counts = {}
    async with client.app[DATABASE].engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = int(await connection.scalar(text(f"SELECT count(*) FROM {table.name}")) or 0)
    return counts


@pytest.fixture
async def unsigned(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    """The real app with the test secret, and a client that signs nothing by itself."""
    return await aiohttp_client(create_app(settings), sign=False)


async def assert_refused(response: Any, header: str) -> None:
    error = await assert_error(response, 401, message=header)
    assert error["message"] == f"missing or invalid {header} header"
    assert response.headers["WWW-Authenticate"] == 'CS-HMAC-SHA256 version="v1"'


def test_only_health_the_openapi_document_signing_in_and_metrics_are_public() -> None:
    public = {route.path for route in registered_routes() if route.access == "public"}
    assert public == {
        "/health/live",
        "/health/ready",
        "/api/openapi.json",
        "/api/auth/login",
        "/api/auth/cookie-login",
        "/metrics",  # METRICS_TOKEN, checked by the route itself: a scraper cannot sign requests
        # The website's server proves its user with the user_hash HMAC in the body (cs_backend/identities/).
        "/api/identities/link-codes",
        "/api/identities/website/unlink",
    }


@pytest.mark.parametrize("route", service_routes())
async def test_every_route_open_to_the_service_refuses_unsigned_wrong_stale_and_replayed_requests(
    unsigned: TestClient[Any, Any], route: ApiRoute
) -> None:
    path, body = concrete_request(route)
    before = await all_row_counts(unsigned)

    async def send(headers: dict[str, str], sent_body: bytes = body) -> Any:
        return await unsigned.request(route.method, path, data=sent_body, headers={**JSON, **headers})

    await assert_refused(await send({}), "X-CS-Signature")
    wrong_secret = signed_headers(route.method, path, body, secret="another-secret-" + "x" * 32)
    await assert_refused(await send(wrong_secret), "X-CS-Signature")
    bad = signed_headers(route.method, path, body)
    await assert_refused(await send({**bad, "X-CS-Signature": "v1=" + "0" * 64}), "X-CS-Signature")
    await assert_refused(
        await send({**bad, "X-CS-Signature": "v2=" + bad["X-CS-Signature"][3:]}), "X-CS-Signature"
    )
    await assert_refused(await send({**bad, "X-CS-Nonce": "short"}), "X-CS-Nonce")
    await assert_refused(await send({**bad, "X-CS-Timestamp": "yesterday"}), "X-CS-Timestamp")
    # 10 s beyond the 300 s window: the header's whole seconds drop up to 1 s, and a loaded machine takes
    # time to answer (at +301 s a request was once accepted). test_auth_verifier.py checks the exact edges.
    stale = signed_headers(route.method, path, body, timestamp=time.time() - 310)
    await assert_refused(await send(stale), "X-CS-Timestamp")
    future = signed_headers(route.method, path, body, timestamp=time.time() + 310)
    await assert_refused(await send(future), "X-CS-Timestamp")
    # Signed for another method or path: the signature covers both.
    other_method = signed_headers("DELETE", path, body)
    await assert_refused(await send(other_method), "X-CS-Signature")
    other_path = signed_headers(route.method, path + "?limit=1", body)
    await assert_refused(await send(other_path), "X-CS-Signature")
    assert await all_row_counts(unsigned) == before, "a refused request wrote something"

    good = signed_headers(route.method, path, body)
    response = await send(good)
    assert response.status != 401, await response.text()
    response.close()  # /api/events answers with a stream that would stay open
    await assert_refused(await send(good), "X-CS-Signature")  # the same request again: a replay


@pytest.mark.parametrize("route", public_reads())
async def test_public_reads_answer_without_credentials(
    unsigned: TestClient[Any, Any], route: ApiRoute
) -> None:
    response = await unsigned.request(route.method, route.path)
    assert response.status == 200, await response.text()


async def test_the_demo_page_is_public(unsigned: TestClient[Any, Any]) -> None:
    response = await unsigned.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    assert (await unsigned.head("/")).status == 200
    assert (await unsigned.get("/static/widget.js")).status == 200
    assert (await unsigned.get("/no-such-page")).status == 404  # aiohttp's own answer, nothing behind it


async def test_a_route_added_without_declaring_its_access_is_protected(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = create_app(settings)

    async def forgotten(_: Any) -> web.Response:
        return web.json_response({"secret": "data"})

    app.router.add_get("/api/forgotten", forgotten)  # not through the registry: no access declared
    client = await aiohttp_client(app, sign=False)
    await assert_refused(await client.get("/api/forgotten"), "X-CS-Signature")


async def test_a_body_changed_after_signing_is_refused_and_not_processed(
    unsigned: TestClient[Any, Any],
) -> None:
    body = json.dumps(ticket_payload()).encode()
    tampered = json.dumps(ticket_payload(email="mallory@example.com")).encode()
    headers = signed_headers("POST", "/api/tickets", body)
    response = await unsigned.post("/api/tickets", data=tampered, headers={**JSON, **headers})
    await assert_refused(response, "X-CS-Signature")
    assert (await all_row_counts(unsigned))["tickets"] == 0

    response = await unsigned.post(
        "/api/tickets", data=body, headers={**JSON, **signed_headers("POST", "/api/tickets", body)}
    )
    assert response.status == 201, await response.text()


async def test_the_query_string_is_signed_as_sent(unsigned: TestClient[Any, Any]) -> None:
    # As aiohttp sends it (yarl leaves "@" unescaped in a query): the signature covers the bytes on the wire.
    path_qs = "/api/tickets?email=ada@example.com&limit=5"
    response = await unsigned.get(path_qs, headers=signed_headers("GET", path_qs))
    assert response.status == 200, await response.text()
    tampered = "/api/tickets?email=eve@example.com&limit=5"
    response = await unsigned.get(tampered, headers=signed_headers("GET", path_qs))
    await assert_refused(response, "X-CS-Signature")


async def test_two_signatures_are_accepted_while_a_secret_is_rotated(unsigned: TestClient[Any, Any]) -> None:
    headers = signed_headers("GET", "/api/tickets")
    old = contract_signature(
        "the-previous-secret-" + "y" * 20,
        "GET",
        "/api/tickets",
        headers["X-CS-Timestamp"],
        headers["X-CS-Nonce"],
        b"",
    )
    headers["X-CS-Signature"] = f"v1={old}, {headers['X-CS-Signature']}"
    assert (await unsigned.get("/api/tickets", headers=headers)).status == 200


async def test_without_a_secret_every_protected_route_is_refused(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = create_app(dataclasses.replace(settings, service_secret=None))
    client = await aiohttp_client(app, sign=False)
    for secret in (TEST_SERVICE_SECRET, ""):
        response = await client.get(
            "/api/tickets", headers=signed_headers("GET", "/api/tickets", secret=secret)
        )
        await assert_refused(response, "X-CS-Signature")
    assert (await client.get("/health/live")).status == 200


@pytest.mark.redis
async def test_a_request_replayed_to_another_process_is_refused_through_redis(
    aiohttp_client: Any, settings: Settings, redis_url: str
) -> None:
    shared = dataclasses.replace(settings, redis_url=redis_url)
    first = await aiohttp_client(create_app(shared), sign=False)
    second = await aiohttp_client(create_app(shared), sign=False)
    body = json.dumps(ticket_payload()).encode()
    headers = {**JSON, **signed_headers("POST", "/api/tickets", body)}
    assert (await first.post("/api/tickets", data=body, headers=headers)).status == 201
    await assert_refused(await second.post("/api/tickets", data=body, headers=headers), "X-CS-Signature")
    await assert_refused(await first.post("/api/tickets", data=body, headers=headers), "X-CS-Signature")
    assert (await all_row_counts(second))["tickets"] == 1


def test_the_service_secret_is_secret_and_long_enough() -> None:
    settings = Settings.from_env({"CS_BACKEND_SERVICE_SECRET": TEST_SERVICE_SECRET})
    assert settings.service_secret == TEST_SERVICE_SECRET
    assert TEST_SERVICE_SECRET not in repr(settings)
    with pytest.raises(SettingsError, match="at least 32 characters") as raised:
        Settings.from_env({"CS_BACKEND_SERVICE_SECRET": "too-short-a-secret"})
    assert "too-short-a-secret" not in str(raised.value)
    assert Settings.from_env({}).service_secret is None


def test_the_openapi_document_states_each_routes_access() -> None:
    routes = registered_routes()
    document = build_openapi(routes)
    schemes = document["components"]["securitySchemes"]
    assert schemes["serviceSignature"]["name"] == "X-CS-Signature"
    assert schemes["bearerSession"] == {**schemes["bearerSession"], "type": "http", "scheme": "bearer"}
    for route in routes:
        operation = document["paths"][route.path][route.method.lower()]
        responses = operation["responses"]
        if route.access == "public":
            # A public route answers 401 only when it says so (signing in with a wrong password).
            assert operation["security"] == [], route.path
            assert ("401" in responses) == (401 in route.errors), route.path
            continue
        expected = [{"serviceSignature": []}] if "service" in route.access else []
        roles = [role for role in ("agent", "admin") if role in route.access]
        expected += [{"bearerSession": roles}, {"cookieSession": roles}] if roles else []
        assert operation["security"] == expected, route.path
        assert "401" in responses, route.path
        assert ("403" in responses) == (route.access != {"service", "agent", "admin"}), route.path
