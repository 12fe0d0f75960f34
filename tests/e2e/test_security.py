"""The locks between the services, tried over the network on the running service (docs/SECURITY.md):

- Rasa's HTTP API answers 401 to every call without its token (reading a conversation, injecting an intent,
  replacing or training the model, ...), while the channels the public uses (socket.io, REST) need none;
- a browser page of an unknown origin gets no CORS allowance from Rasa, the demo website's origin does;
- the action server answers 401 to every call but its health check without its token;
- cs_backend answers 401 to an unsigned, wrongly signed or replayed call, and serves a signed one;
- an admin created with `create-admin` signs in, is served as the routes' roles say, and signs out;
- a widget conversation belongs to the socket.io clients that hold its server-issued token: a client
  presenting its sender id or a made-up token gets a conversation of its own, a message naming another
  session speaks for its own socket's session, and pages of other origins cannot connect at all;
- a conversation that types another customer's email is shown none of that customer's tickets.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import aiohttp
import pytest
import socketio
from chat_clients import RestChat, SocketChat
from e2e_support import RunningService
from test_support_conversation import report_problem_and_rate

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


async def test_the_widget_channel_needs_no_token_and_the_rest_channel_its_own(
    service: RunningService,
) -> None:
    rasa = service.ports.rasa_url
    assert await status_of("GET", f"{rasa}{SOCKET_IO_HANDSHAKE}") == 200
    # The REST channel speaks as any sender id: only trusted callers, holding RASA_REST_TOKEN, reach it.
    url = f"{rasa}/webhooks/rest/webhook"
    refused = {"sender": "rest-refused-check", "message": "hello"}
    for authorization in (None, "Bearer wrong-token-of-a-plausible-length", f"Bearer {service.rasa_token}"):
        headers = {} if authorization is None else {"Authorization": authorization}
        assert await status_of("POST", url, json=refused, headers=headers) == 401
    tracker = await service.tracker("rest-refused-check")
    assert not [event for event in tracker["events"] if event["event"] == "user"]
    accepted = {"sender": "rest-channel-check", "message": "hello"}
    headers = {"Authorization": f"Bearer {service.rest_token}"}
    assert await status_of("POST", url, json=accepted, headers=headers) == 200


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


# --- conversation ownership (bot/channels/socketio.py, actions/tickets.py) ----------------------------------


def said_by_the_customer(service: RunningService, sender: str) -> list[str]:
    """The texts of the user messages in the conversation of `sender`, from Rasa's event stream."""
    rows = service.query_events("SELECT data FROM events WHERE sender_id = ? ORDER BY id", sender)
    return [event["text"] for event in rows if event["event"] == "user"]


async def test_a_stolen_sender_id_or_a_made_up_token_opens_a_conversation_of_its_own(
    service: RunningService,
) -> None:
    victim = SocketChat(service.ports.rasa_url)
    await victim.connect()
    victim_sender = service.widget_sender(victim.token)
    random_part, _ = victim.token.split(".")
    try:
        await victim.say("hello")
        for presented in (victim_sender, f"{random_part}.{'A' * 43}", "made-up-session-id"):
            intruder = SocketChat(service.ports.rasa_url, token=presented)
            await intruder.connect()
            try:
                assert intruder.token not in (victim.token, presented)
                turn = await victim.say("I want to cancel my subscription")
                assert turn.texts
                await asyncio.sleep(1)
                assert intruder.inbox.empty(), presented  # none of the victim's replies
                assert (await intruder.say("hello")).texts  # its own conversation answers it
            finally:
                await intruder.close()
            assert said_by_the_customer(service, service.widget_sender(intruder.token)) == ["hello"]
    finally:
        await victim.close()
    assert "hello" not in said_by_the_customer(service, victim_sender)[1:]


async def test_a_message_naming_another_session_speaks_only_for_its_own(service: RunningService) -> None:
    victim, intruder = SocketChat(service.ports.rasa_url), SocketChat(service.ports.rasa_url)
    await victim.connect()
    await intruder.connect()
    victim_sender = service.widget_sender(victim.token)
    try:
        await victim.say("hello")
        for claimed in (victim_sender, victim.token):
            message = {"message": "I want to cancel my subscription", "session_id": claimed}
            await intruder.client.emit("user_uttered", message)
            assert (await asyncio.wait_for(intruder.inbox.get(), 30))["text"]
        await asyncio.sleep(1.5)
        assert victim.inbox.empty()
    finally:
        await victim.close()
        await intruder.close()
    assert said_by_the_customer(service, victim_sender) == ["hello"]
    intruder_said = said_by_the_customer(service, service.widget_sender(intruder.token))
    assert intruder_said.count("I want to cancel my subscription") >= 2


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_socketio_from_a_page_of_another_origin_is_refused(
    service: RunningService, transport: str
) -> None:
    for origin in (EVIL_ORIGIN, "null"):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                service.ports.rasa_url,
                transports=[transport],
                socketio_path="/socket.io",
                headers={"Origin": origin},
            )
    chat = SocketChat(service.ports.rasa_url, [transport], headers={"Origin": service.ports.backend_url})
    await chat.connect()
    try:
        assert (await chat.say("hello")).texts
    finally:
        await chat.close()
    async with aiohttp.ClientSession() as session:
        url = f"{service.ports.rasa_url}{SOCKET_IO_HANDSHAKE}"
        async with session.get(url, headers={"Origin": EVIL_ORIGIN}) as response:
            assert response.status == 403


async def test_a_typed_email_shows_none_of_that_customers_tickets(service: RunningService) -> None:
    victim = RestChat(service.ports.rasa_url, service.rest_token)
    email = f"{victim.sender}@example.com"
    victims_number, _ = await report_problem_and_rate(victim.say, service, victim.sender, email)

    # The intruder types the victim's email: their ticket goes to that address, and that is all.
    intruder = RestChat(service.ports.rasa_url, service.rest_token)
    own_number, _ = await report_problem_and_rate(intruder.say, service, intruder.sender, email)
    asked = await intruder.say(f"what is the status of ticket {victims_number}?")
    latest = await intruder.say("any update on my last ticket?")

    assert f"#{victims_number}" in asked.text and "couldn't find" in asked.text, asked.text
    assert "Priority" not in asked.text
    assert f"#{own_number}" in latest.text and f"#{victims_number}" not in latest.text, latest.text
    # The ticket is answered at the typed address, but the conversation did not become that customer's.
    (ticket,) = service.query("SELECT email, customer_id FROM tickets WHERE id = ?", own_number)
    (victims,) = service.query("SELECT customer_id FROM tickets WHERE id = ?", victims_number)
    assert ticket["email"] == email and ticket["customer_id"] == victims["customer_id"]
    (conversation,) = service.query(
        "SELECT customer_id FROM conversations WHERE sender_id = ? AND channel = 'rest'", intruder.sender
    )
    assert conversation["customer_id"] != victims["customer_id"]
