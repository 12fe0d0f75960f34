"""Signed calls from the actions to cs_backend (actions/api/signing.py, the client): the running backend
(tests/actions/conftest.py, started with the launcher's code and a secret of its own) accepts what the client
signs and refuses the rest; each retry is signed afresh; the signature follows docs/API_CONTRACT.md."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from action_test_support import FakeBackend
from aiohttp import web
from conftest import RunningBackend

from actions.api.client import BackendClient
from actions.api.errors import BackendError
from actions.api.signing import SECRET_ENV, signature_headers

SECRET = "a-secret-of-the-tests-0123456789abcdef"


def documented_signature(
    secret: str, method: str, path_qs: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """docs/API_CONTRACT.md "Authentication", step by step."""
    lines = ["v1", method.upper(), path_qs, timestamp, nonce, hashlib.sha256(body).hexdigest()]
    return hmac.new(secret.encode(), "\n".join(lines).encode(), hashlib.sha256).hexdigest()


def test_the_headers_follow_the_documented_rules() -> None:
    body = b'{"email": "ada@example.com"}'
    headers = signature_headers(SECRET, "post", "/api/tickets?x=1", body, now=1_700_000_000.9)
    assert headers["X-CS-Timestamp"] == "1700000000"
    assert 16 <= len(headers["X-CS-Nonce"]) <= 128
    expected = documented_signature(
        SECRET, "POST", "/api/tickets?x=1", "1700000000", headers["X-CS-Nonce"], body
    )
    assert headers["X-CS-Signature"] == f"v1={expected}"
    assert (
        signature_headers(SECRET, "GET", "/")["X-CS-Nonce"]
        != signature_headers(SECRET, "GET", "/")["X-CS-Nonce"]
    )


async def test_the_real_backend_accepts_what_the_client_signs(backend_url: str) -> None:
    email = f"ada+{time.time_ns()}@example.com"  # "+" and "@": the query is signed as it is sent
    async with BackendClient() as client:
        ticket = await client.create_ticket(description="Signed: exports are empty", email=email)
        page = await client.list_tickets(email=email)
    assert [item.id for item in page.items] == [ticket.id]


async def test_the_real_backend_refuses_a_client_without_the_right_secret(
    backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV)
    async with BackendClient() as client:
        with pytest.raises(BackendError) as unsigned:
            await client.onboarding_steps()
    async with BackendClient(service_secret="not-the-backends-secret-0123456789") as client:
        with pytest.raises(BackendError) as wrong:
            await client.onboarding_steps()
    assert unsigned.value.status == 401 and wrong.value.status == 401
    assert "X-CS-Signature" in unsigned.value.message


def test_the_real_backend_refuses_unsigned_and_replayed_requests(backend: RunningBackend) -> None:
    def status(headers: dict[str, str]) -> int:
        request = urllib.request.Request(f"{backend.url}/api/tickets", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    headers = signature_headers(backend.service_secret, "GET", "/api/tickets")
    assert status({}) == 401
    assert status(headers) == 200
    assert status(headers) == 401  # the same signature again
    assert (
        json.loads(urllib.request.urlopen(f"{backend.url}/health/live", timeout=10).read())["status"] == "ok"
    )


async def test_each_attempt_is_signed_afresh() -> None:
    async def drop_the_first(number: int, request: web.Request) -> web.StreamResponse:
        if number == 1 and request.transport is not None:
            request.transport.close()
        return web.json_response({"items": [], "total": 0, "limit": 20, "offset": 0})

    async with (
        FakeBackend(drop_the_first) as fake,
        BackendClient(fake.url, backoff=0.01, service_secret=SECRET) as client,
    ):
        await client.list_tickets(email="ada@example.com")
    assert len(fake.received) == 2
    nonces = set()
    for received in fake.received:
        headers: dict[str, Any] = received.headers
        path_qs = "/api/tickets?email=ada@example.com&limit=20&offset=0"
        expected = documented_signature(
            SECRET, "GET", path_qs, headers["X-CS-Timestamp"], headers["X-CS-Nonce"], b""
        )
        assert headers["X-CS-Signature"] == f"v1={expected}"
        nonces.add(headers["X-CS-Nonce"])
    assert len(nonces) == 2
