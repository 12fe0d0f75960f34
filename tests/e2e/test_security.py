"""The locks between the services, tried over the network on the running service (docs/SECURITY.md):

- Rasa's HTTP API answers 401 to every call without its token (reading a conversation, injecting an intent,
  replacing or training the model, ...), while the channels the public uses (socket.io, REST) need none;
- a browser page of an unknown origin gets no CORS allowance from Rasa, the demo website's origin does;
- the action server answers 401 to every call but its health check without its token;
- cs_backend answers 401 to an unsigned, wrongly signed or replayed call, and serves a signed one;
- an admin created with `create-admin` signs in, is served as the routes' roles say, and signs out.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import aiohttp
import pytest
from e2e_support import RunningService

from cs_backend.auth.signing import signature_headers
from launcher.stack import backend_command
from tests.support import REPO_ROOT

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Rasa's HTTP API routes, one of each kind; every one is guarded by rasa.server.requires_auth.
RASA_API_CALLS = [
    ("GET", "/conversations/victim/tracker"),
    ("POST", "/conversations/victim/tracker/events"),
    ("POST", "/conversations/victim/trigger_intent"),
    ("POST", "/conversations/victim/messages"),
    ("PUT", "/model"),
    ("POST", "/model/train"),
    ("DELETE", "/model"),
    ("POST", "/model/parse"),
    ("GET", "/status"),
    ("GET", "/domain"),
]
EVIL_ORIGIN = "https://evil.example"
SOCKET_IO_HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


async def status_of(method: str, url: str, **kwargs: Any) -> int:
    async with aiohttp.ClientSession() as session, session.request(method, url, **kwargs) as response:
        return response.status


@pytest.mark.parametrize(("method", "path"), RASA_API_CALLS)
@pytest.mark.parametrize(
    "token", [None, "", "wrong-token-of-a-plausible-length"], ids=["none", "empty", "wrong"]
)
async def test_rasa_api_refuses_calls_without_the_token(
    service: RunningService, method: str, path: str, token: str | None
) -> None:
    params = {} if token is None else {"token": token}
    body = {"name": "EXTERNAL_onboarding_nudge", "text": "hi", "model_file": "/tmp/attacker.tar.gz"}
    assert await status_of(method, f"{service.ports.rasa_url}{path}", params=params, json=body) == 401


async def test_rasa_api_answers_with_the_token(service: RunningService) -> None:
    tracker = await service.tracker("someone-never-seen")
    assert tracker["sender_id"] == "someone-never-seen"


async def test_the_public_channels_need_no_token(service: RunningService) -> None:
    rasa = service.ports.rasa_url
    rest = {"sender": "public-channel-check", "message": "hello"}
    assert await status_of("POST", f"{rasa}/webhooks/rest/webhook", json=rest) == 200
    assert await status_of("GET", f"{rasa}{SOCKET_IO_HANDSHAKE}") == 200


async def allowed_origin(method: str, url: str, origin: str, **headers: str) -> str | None:
    """The Access-Control-Allow-Origin Rasa answers to a request from a page of `origin`."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers={"Origin": origin, **headers}) as response,
    ):
        return response.headers.get("Access-Control-Allow-Origin")


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        # The preflight a page sends before reading a tracker (a cross-origin GET with credentials).
        ("OPTIONS", "/conversations/victim/tracker", {"Access-Control-Request-Method": "GET"}),
        ("OPTIONS", "/model", {"Access-Control-Request-Method": "PUT"}),
        # The widget's HTTP long-polling transport of socket.io (its fallback when websocket fails).
        ("GET", SOCKET_IO_HANDSHAKE, {}),
    ],
)
async def test_only_the_website_origins_get_cors_allowance(
    service: RunningService, method: str, path: str, headers: dict[str, str]
) -> None:
    url = f"{service.ports.rasa_url}{path}"
    assert await allowed_origin(method, url, EVIL_ORIGIN, **headers) is None
    assert await allowed_origin(method, url, "null", **headers) is None  # sandboxed frames, file:// pages
    for website in (service.ports.backend_url, f"http://localhost:{service.ports.backend}"):
        assert await allowed_origin(method, url, website, **headers) == website


async def test_action_server_refuses_calls_without_its_token(service: RunningService) -> None:
    actions = service.ports.actions_url
    call = {"next_action": "action_reset_ticket_form", "sender_id": "victim", "tracker": {}, "domain": {}}
    # Rasa's API token opens nothing here: each service has its own.
    for params in ({}, {"token": ""}, {"token": service.rasa_token}):
        assert await status_of("POST", f"{actions}/webhook", json=call, params=params) == 401
        assert await status_of("GET", f"{actions}/actions", params=params) == 401
    assert await status_of("GET", f"{actions}/health") == 200
    assert await status_of("GET", f"{actions}/actions", params={"token": service.action_server_token}) == 200


async def test_cs_backend_serves_only_signed_calls(service: RunningService) -> None:
    backend = service.ports.backend_url
    path = "/api/tickets?limit=1"
    # Rasa's and the action server's tokens open nothing here either.
    for params in ({}, {"token": service.rasa_token}, {"token": service.action_server_token}):
        assert await status_of("GET", f"{backend}/api/tickets", params=params) == 401
    wrong = signature_headers("not-the-service-secret-0123456789abcdef", "GET", path)
    assert await status_of("GET", f"{backend}{path}", headers=wrong) == 401
    signed = signature_headers(service.service_secret, "GET", path)
    assert await status_of("GET", f"{backend}{path}", headers=signed) == 200
    assert await status_of("GET", f"{backend}{path}", headers=signed) == 401  # replayed
    for public in ("/health/ready", "/api/openapi.json", "/"):
        assert await status_of("GET", f"{backend}{public}") == 200


async def test_an_admin_created_on_the_command_line_signs_in_and_out(service: RunningService) -> None:
    backend = service.ports.backend_url
    password = "an admin's long passphrase"
    created = await asyncio.to_thread(
        subprocess.run,
        backend_command("create-admin", "--email", "e2e-admin@example.com"),
        input=password + "\n",
        cwd=REPO_ROOT,
        env={**os.environ, **service.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    async with aiohttp.ClientSession() as session:
        credentials = {"email": "e2e-admin@example.com", "password": password}
        async with session.post(f"{backend}/api/auth/login", json=credentials) as response:
            assert response.status == 200
            token = (await response.json())["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert await status_of("GET", f"{backend}/api/tickets", headers=bearer) == 200
        assert await status_of("GET", f"{backend}/api/accounts", headers=bearer) == 200
        # The bot's writes are the service's alone.
        assert await status_of("POST", f"{backend}/api/tickets", headers=bearer, json={}) == 403
        assert await status_of("POST", f"{backend}/api/auth/logout", headers=bearer) == 204
        assert await status_of("GET", f"{backend}/api/tickets", headers=bearer) == 401
