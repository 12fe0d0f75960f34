"""Browser sessions (POST /api/auth/cookie-login): the session token only in an httpOnly SameSite=Strict
cookie, CSRF checks on unsafe cookie-authenticated requests (a missing or wrong X-CSRF-Token, a foreign
Origin or a cross-site fetch: 403 and nothing written), bearer tokens unaffected, and signing out clearing
the cookies and ending the session. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from http.cookies import SimpleCookie
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from cs_backend.accounts.models import AccountSession
from cs_backend.config import Settings
from cs_backend.main import create_app

from .helpers import assert_error, ticket_payload
from .test_accounts import PASSWORD, bearer, db_of, new_account
from .test_auth import JSON, signed_headers

CREDENTIALS = {"email": "ada@example.com", "password": PASSWORD}


@pytest.fixture
async def browser(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    """The real app and a client that keeps cookies as a browser does, and signs nothing."""
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings), sign=False)
    await new_account(client, "agent", CREDENTIALS["email"])
    return client


def set_cookies(response: ClientResponse) -> SimpleCookie:
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        cookies.load(header)
    return cookies


async def cookie_login(client: TestClient[Any, Any], **headers: str) -> tuple[ClientResponse, dict[str, Any]]:
    response = await client.post("/api/auth/cookie-login", json=CREDENTIALS, headers=headers)
    assert response.status == 200, await response.text()
    return response, await response.json()


async def open_ticket(client: TestClient[Any, Any]) -> int:
    body = json.dumps(ticket_payload()).encode()
    response = await client.post(
        "/api/tickets", data=body, headers={**JSON, **signed_headers("POST", "/api/tickets", body)}
    )
    assert response.status == 201
    ticket_id: int = (await response.json())["id"]
    return ticket_id


async def ticket_status(client: TestClient[Any, Any], ticket_id: int) -> str:
    path = f"/api/tickets/{ticket_id}"
    response = await client.get(path, headers=signed_headers("GET", path))
    status: str = (await response.json())["status"]
    return status


def same_origin(client: TestClient[Any, Any]) -> str:
    return f"http://{client.host}:{client.port}"


async def test_cookie_sign_in_keeps_the_token_out_of_reach_of_page_scripts(
    browser: TestClient[Any, Any],
) -> None:
    response, body = await cookie_login(browser)
    assert set(body) == {"csrf_token", "expires_at", "role", "account_id"}
    assert body["role"] == "agent"
    cookies = set_cookies(response)
    session, csrf = cookies["cs_session"], cookies["cs_csrf"]
    assert session["httponly"] is True and not csrf["httponly"]
    for cookie in (session, csrf):
        assert cookie["samesite"] == "Strict"
        assert cookie["path"] == "/"
        assert cookie["expires"]
        assert not cookie["secure"], "served on 127.0.0.1: over plain HTTP, Secure is off by default"
    assert csrf.value == body["csrf_token"]
    assert session.value not in json.dumps(body)
    # Only the token's SHA-256 is stored.
    async with db_of(browser).sessions() as db_session:
        stored = (await db_session.scalars(select(AccountSession.token_hash))).all()
    assert stored == [hashlib.sha256(session.value.encode()).hexdigest()]
    # The browser's later requests are the person's.
    me = await browser.get("/api/auth/me")
    assert me.status == 200
    assert (await me.json())["email"] == CREDENTIALS["email"]


async def test_the_cookies_are_secure_outside_localhost_or_when_the_setting_says_so(
    aiohttp_client: Any, settings: Settings
) -> None:
    for number, (mode, host, secure) in enumerate(
        (
            ("auto", "console.example.com", True),
            ("auto", "localhost:8000", False),
            ("auto", "[::1]:8000", False),
            ("true", "127.0.0.1", True),
            ("false", "console.example.com", False),
        )
    ):
        app = create_app(dataclasses.replace(settings, session_cookie_secure=mode))
        client = await aiohttp_client(app, sign=False)
        email = f"agent{number}@example.com"
        await new_account(client, "agent", email)
        response = await client.post(
            "/api/auth/cookie-login", json={**CREDENTIALS, "email": email}, headers={"Host": host}
        )
        assert response.status == 200, await response.text()
        cookies = set_cookies(response)
        assert bool(cookies["cs_session"]["secure"]) is secure, (mode, host)
        assert bool(cookies["cs_csrf"]["secure"]) is secure, (mode, host)


async def test_an_unsafe_cookie_request_without_the_right_csrf_token_or_from_elsewhere_is_refused(
    browser: TestClient[Any, Any],
) -> None:
    _, body = await cookie_login(browser)
    ticket_id = await open_ticket(browser)
    path = f"/api/tickets/{ticket_id}"
    change = {"status": "pending"}
    origin = same_origin(browser)
    for headers, message in (
        ({}, "missing or invalid X-CSRF-Token header"),
        ({"X-CSRF-Token": ""}, "missing or invalid X-CSRF-Token header"),
        ({"X-CSRF-Token": body["csrf_token"][:-1] + "x"}, "missing or invalid X-CSRF-Token header"),
        (
            {"X-CSRF-Token": body["csrf_token"], "Origin": "https://evil.example"},
            "cross-origin request refused",
        ),
        ({"X-CSRF-Token": body["csrf_token"], "Origin": "null"}, "cross-origin request refused"),
        (
            {"X-CSRF-Token": body["csrf_token"], "Sec-Fetch-Site": "cross-site"},
            "cross-origin request refused",
        ),
        ({"Origin": origin}, "missing or invalid X-CSRF-Token header"),
    ):
        response = await browser.patch(path, json=change, headers=headers)
        await assert_error(response, 403, message=message)
        assert await ticket_status(browser, ticket_id) == "open", headers
    # Safe methods need no token.
    assert (await browser.get(path)).status == 200
    # With the token, from this origin, the change is made.
    headers = {"X-CSRF-Token": body["csrf_token"], "Origin": origin, "Sec-Fetch-Site": "same-origin"}
    response = await browser.patch(path, json=change, headers=headers)
    assert response.status == 200, await response.text()
    assert await ticket_status(browser, ticket_id) == "pending"


async def test_a_csrf_token_of_another_session_is_refused(browser: TestClient[Any, Any]) -> None:
    _, first = await cookie_login(browser)
    await cookie_login(browser)  # the browser's cookies now hold the second session
    ticket_id = await open_ticket(browser)
    response = await browser.patch(
        f"/api/tickets/{ticket_id}", json={"status": "pending"}, headers={"X-CSRF-Token": first["csrf_token"]}
    )
    await assert_error(response, 403)
    assert await ticket_status(browser, ticket_id) == "open"


async def test_bearer_tokens_need_no_csrf_token_and_win_over_a_cookie(browser: TestClient[Any, Any]) -> None:
    ticket_id = await open_ticket(browser)
    agent = await bearer(browser, await new_account(browser, "agent", "bob@example.com"))
    response = await browser.patch(f"/api/tickets/{ticket_id}", json={"status": "pending"}, headers=agent)
    assert response.status == 200, await response.text()
    # With a session cookie alongside, the bearer token decides (and still needs no CSRF token).
    await cookie_login(browser)
    me = await browser.get("/api/auth/me", headers=agent)
    assert (await me.json())["email"] == "bob@example.com"
    response = await browser.patch(f"/api/tickets/{ticket_id}", json={"status": "open"}, headers=agent)
    assert response.status == 200, await response.text()


async def test_signing_out_clears_the_cookies_and_ends_the_session(browser: TestClient[Any, Any]) -> None:
    response, body = await cookie_login(browser)
    token = set_cookies(response)["cs_session"].value
    # Signing out is unsafe too: without the CSRF token, another site could sign the person out.
    await assert_error(await browser.post("/api/auth/logout"), 403)
    assert (await browser.get("/api/auth/me")).status == 200

    response = await browser.post("/api/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert response.status == 204
    cleared = set_cookies(response)
    for name in ("cs_session", "cs_csrf"):
        assert cleared[name].value == ""
        assert cleared[name]["max-age"] == "0"
    assert not [cookie for cookie in browser.session.cookie_jar if cookie.key == "cs_session"]
    async with db_of(browser).sessions() as db_session:
        assert (await db_session.scalars(select(AccountSession))).all() == []
    # The old cookie, sent again by hand, is refused.
    stale = await browser.get("/api/auth/me", headers={"Cookie": f"cs_session={token}"})
    await assert_error(stale, 401, message="missing or invalid cs_session cookie")


async def test_a_cookie_sign_in_is_refused_like_a_bearer_one(browser: TestClient[Any, Any]) -> None:
    response = await browser.post(
        "/api/auth/cookie-login", json={**CREDENTIALS, "password": "wrong password!"}
    )
    await assert_error(response, 401, message="wrong email or password")
    assert "Set-Cookie" not in response.headers
