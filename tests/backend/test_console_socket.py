"""The agent console's websocket (GET /api/console/ws): only signed-in agents and admins, only from this
site's pages; it pushes the routing's live events (an agent gets the messages of the handoffs they hold
only), carries `send` frames to HandoffMessaging.send_agent_message (a test double here, registered under
HANDOFF_MESSAGING), answers bad frames with error frames and stays open, limits frames, closes with 4401
when the session ended and with 1001 on shutdown. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from cs_backend.accounts import service as accounts
from cs_backend.api.errors import Conflict
from cs_backend.app_keys import DATABASE, HANDOFF_MESSAGING, LIVE_EVENTS
from cs_backend.config import Settings
from cs_backend.main import create_app
from cs_backend.routing.service import Actor

from .routing_support import Person, act, person, request_handoff, set_profile
from .test_accounts import new_account
from .test_cookie_sessions import CREDENTIALS

TIMEOUT = 5.0
PATH = "/api/console/ws"


@dataclass(frozen=True)
class SentMessage:
    """What HandoffMessaging.send_agent_message answers: a transcript entry."""

    id: int
    kind: str
    text: str
    author_id: int | None
    author_name: str | None
    created_at: datetime
    delivery: str | None


@dataclass
class RecordingMessaging:
    """Stands in for cs_backend.routing.messages.HandoffMessaging's send_agent_message: records each call,
    answers an entry, or raises `failure` once. Everything else goes to the real service (`real`), which the
    routes use too (the accept route tells the conversation, for one)."""

    calls: list[tuple[int, Actor, str, str | None]] = field(default_factory=list)
    failure: Exception | None = None
    real: Any = None

    def __getattr__(self, name: str) -> Any:
        if self.real is None:
            raise AttributeError(name)
        return getattr(self.real, name)

    async def send_agent_message(
        self, handoff_id: int, actor: Actor, text: str, client_id: str | None
    ) -> SentMessage:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        self.calls.append((handoff_id, actor, text, client_id))
        return SentMessage(
            len(self.calls),
            "agent",
            text,
            actor.account_id,
            "Agent",
            datetime(2026, 11, 30, tzinfo=UTC),
            None,
        )


@pytest.fixture
def messaging() -> RecordingMessaging:
    return RecordingMessaging()


def app_with(settings: Settings, messaging: RecordingMessaging) -> web.Application:
    app = create_app(settings)

    async def install(app: web.Application) -> None:
        # After the app's own resources, so the double replaces the real service wherever it exists.
        messaging.real = app[HANDOFF_MESSAGING]
        app[HANDOFF_MESSAGING] = messaging

    app.on_startup.append(install)
    return app


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, messaging: RecordingMessaging
) -> TestClient[Any, Any]:
    """Signs every request as the service (the handoff requests); people add their bearer header."""
    return await aiohttp_client(app_with(settings, messaging))


def origin(client: TestClient[Any, Any]) -> str:
    return f"http://{client.host}:{client.port}"


async def connect(client: TestClient[Any, Any], who: Person) -> aiohttp.ClientWebSocketResponse:
    socket = await client.ws_connect(PATH, headers={**who.headers, "Origin": origin(client)})
    ready = await receive(socket)
    assert ready["type"] == "ready"
    return socket


async def receive(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next frame that is not a heartbeat."""
    while True:
        frame: dict[str, Any] = await asyncio.wait_for(socket.receive_json(), TIMEOUT)
        if frame["type"] != "heartbeat":
            return frame


async def receive_until(socket: aiohttp.ClientWebSocketResponse, type: str) -> list[dict[str, Any]]:
    """Frames up to and including the first of `type`."""
    frames = []
    while True:
        frames.append(await receive(socket))
        if frames[-1]["type"] == type:
            return frames


async def receive_payload(
    socket: aiohttp.ClientWebSocketResponse, type: str, payload: dict[str, Any]
) -> list[dict[str, Any]]:
    """Frames up to and including the first of `type` with this payload (the system entries the routing
    writes on its own, "Bob accepted the conversation.", come before)."""
    frames = []
    while True:
        frames.append(await receive(socket))
        if frames[-1] == {"type": type, "payload": payload}:
            return frames


async def test_only_signed_in_people_from_this_site_open_it(client: TestClient[Any, Any]) -> None:
    agent = await person(client, "agent", "bob")
    cases = [
        ({}, 401, "no credential"),
        ({"Authorization": "Bearer nope", "Origin": origin(client)}, 401, "bad session"),
        (agent.headers, 403, "no Origin"),
        ({**agent.headers, "Origin": "https://evil.example"}, 403, "another site"),
        ({**agent.headers, "Origin": "null"}, 403, "an opaque origin"),
    ]
    async with aiohttp.ClientSession() as unsigned:
        for headers, status, case in cases:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await unsigned.ws_connect(client.make_url(PATH), headers=headers)
            assert refused.value.status == status, case
    # The service (a signed call, the client's default) is not a person.
    response = await client.get(PATH, headers={"Origin": origin(client)})
    assert response.status == 403
    # Not a websocket handshake: a clear 400.
    response = await client.get(PATH, headers={**agent.headers, "Origin": origin(client)})
    assert response.status == 400
    assert "Upgrade" in (await response.json())["error"]["fields"]


async def test_a_cookie_session_opens_it_and_gets_ready(
    aiohttp_client: Any, settings: Settings, messaging: RecordingMessaging
) -> None:
    browser = await aiohttp_client(app_with(settings, messaging), sign=False)
    account = await new_account(browser, "agent", CREDENTIALS["email"])
    assert (await browser.post("/api/auth/cookie-login", json=CREDENTIALS)).status == 200
    socket = await browser.ws_connect(PATH, headers={"Origin": origin(browser)})
    ready = await receive(socket)
    assert ready == {
        "type": "ready",
        "payload": {"account_id": account.id, "role": "agent", "display_name": "Agent", "status": None},
    }
    await socket.close()


async def test_it_pushes_routing_events_and_the_messages_of_held_handoffs(
    client: TestClient[Any, Any],
) -> None:
    admin = await person(client, "admin", "ada")
    agent = await person(client, "agent", "bob")
    await set_profile(client, admin, agent, status="offline")
    agent_socket = await connect(client, agent)
    admin_socket = await connect(client, admin)

    response = await client.put(
        "/api/routing/agents/me/status", json={"status": "online"}, headers=agent.headers
    )
    assert response.status == 200
    frame = await receive(agent_socket)
    assert frame == {
        "type": "agent.status",
        "payload": {"account_id": agent.account_id, "status": "online", "load": 0},
    }

    handoff = await request_handoff(client, "widget-1")
    frames = await receive_until(agent_socket, "handoff.assigned")
    assert frames[0]["type"] == "handoff.queued"
    assert frames[-1]["payload"]["id"] == handoff["id"]
    assert frames[-1]["payload"]["agent_id"] == agent.account_id
    await act(client, agent, handoff["id"], "accept")
    await receive_until(agent_socket, "handoff.accepted")

    # Another handoff, not the agent's (nobody can take it: it is closed as unavailable at once).
    other = await request_handoff(client, "widget-2", skill="technical")
    await receive_until(agent_socket, "handoff.cancelled")

    live_events = client.app[LIVE_EVENTS]
    theirs = {"handoff_id": handoff["id"], "id": 1, "kind": "customer", "text": "hello"}
    not_theirs = {"handoff_id": other["id"], "id": 2, "kind": "customer", "text": "anyone?"}
    await live_events.publish("handoff.message", not_theirs)
    await live_events.publish("ticket.created", {"id": 7})  # not a console event
    await live_events.publish("handoff.message", theirs)
    agent_frames = await receive_payload(agent_socket, "handoff.message", theirs)
    assert all(f["payload"] != not_theirs for f in agent_frames)
    admin_frames = await receive_payload(admin_socket, "handoff.message", not_theirs)  # admins see all
    admin_frames += await receive_payload(admin_socket, "handoff.message", theirs)
    assert all(not f["type"].startswith("ticket.") for f in admin_frames)

    # Transferred away: its messages no longer reach the agent.
    response = await client.post(
        f"/api/routing/handoffs/{handoff['id']}/transfer", json={}, headers=agent.headers
    )
    assert response.status == 200, await response.text()
    await receive_until(agent_socket, "handoff.transferred")
    await live_events.publish("handoff.message", theirs)
    await live_events.publish("agent.status", {"account_id": 99, "status": "away", "load": 0})
    frames = await receive_until(agent_socket, "agent.status")
    assert all(f["type"] != "handoff.message" for f in frames)
    await agent_socket.close()
    await admin_socket.close()


async def test_send_frames_reach_the_messaging_service(
    client: TestClient[Any, Any], messaging: RecordingMessaging
) -> None:
    agent = await person(client, "agent", "bob")
    socket = await connect(client, agent)
    await socket.send_json({"type": "send", "handoff_id": 5, "text": "  Hi, I'm Bob.  ", "client_id": "c-1"})
    answer = await receive(socket)
    assert answer == {
        "type": "sent",
        "client_id": "c-1",
        "handoff_id": 5,
        "message": {
            "id": 1,
            "kind": "agent",
            "text": "Hi, I'm Bob.",
            "author_id": agent.account_id,
            "author_name": "Agent",
            "created_at": "2026-11-30T00:00:00Z",
            "delivery": None,
        },
    }
    assert messaging.calls == [(5, Actor(agent.account_id, "agent"), "Hi, I'm Bob.", "c-1")]

    # The service's refusal is the frame's answer; the socket stays open.
    messaging.failure = Conflict("handoff 5 is resolved, not accepted")
    await socket.send_json({"type": "send", "handoff_id": 5, "text": "still there?", "client_id": "c-2"})
    assert await receive(socket) == {
        "type": "error",
        "client_id": "c-2",
        "error": {"status": 409, "message": "handoff 5 is resolved, not accepted"},
    }
    await socket.send_json({"type": "send", "handoff_id": 5, "text": "again"})
    answer = await receive(socket)
    assert answer["type"] == "sent" and answer["client_id"] is None

    # An unexpected failure is a 500 error frame (details in the log only); the socket stays open too.
    messaging.failure = RuntimeError("database connection lost")
    await socket.send_json({"type": "send", "handoff_id": 5, "text": "hello?", "client_id": "c-3"})
    assert await receive(socket) == {
        "type": "error",
        "client_id": "c-3",
        "error": {"status": 500, "message": "internal error"},
    }
    await socket.send_json({"type": "send", "handoff_id": 5, "text": "still here", "client_id": "c-4"})
    assert (await receive(socket))["type"] == "sent"
    await socket.close()


@pytest.mark.parametrize(
    ("frame", "fields"),
    [
        ("not json", {"frame"}),
        ('{"type": "send", "handoff_id": ' + "9" * 5000 + ', "text": "hi"}', {"frame"}),
        ("[1, 2]", {"frame"}),
        ('{"type": "shout", "client_id": "c-9"}', {"type"}),
        ('{"type": "send", "handoff_id": 5, "client_id": "c-9"}', {"text"}),
        ('{"type": "send", "handoff_id": 0, "text": "hi", "client_id": "c-9"}', {"handoff_id"}),
        ('{"type": "send", "handoff_id": "5", "text": "hi", "client_id": "c-9"}', {"handoff_id"}),
        ('{"type": "send", "handoff_id": 5, "text": "   ", "client_id": "c-9"}', {"text"}),
        ('{"type": "send", "handoff_id": 5, "text": "' + "x" * 4001 + '", "client_id": "c-9"}', {"text"}),
        ('{"type": "send", "handoff_id": 5, "text": "a\\u0000b", "client_id": "c-9"}', {"text"}),
        ('{"type": "send", "handoff_id": 5, "text": "hi", "client_id": "c-9", "extra": 1}', {"extra"}),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays(
    client: TestClient[Any, Any], messaging: RecordingMessaging, frame: str, fields: set[str]
) -> None:
    agent = await person(client, "agent", "bob")
    socket = await connect(client, agent)
    await socket.send_str(frame)
    answer = await receive(socket)
    assert answer["type"] == "error", answer
    assert answer["error"]["status"] == 400
    assert set(answer["error"]["fields"]) == fields
    if "c-9" in frame and fields != {"frame"}:
        assert answer["client_id"] == "c-9"
    await socket.send_bytes(b"\x00")
    assert (await receive(socket))["error"]["fields"] == {"frame": "binary frame"}
    assert messaging.calls == []
    await socket.send_json({"type": "send", "handoff_id": 5, "text": "fine", "client_id": "c-10"})
    assert (await receive(socket))["type"] == "sent"
    await socket.close()


async def test_sends_count_against_the_account_limit(
    aiohttp_client: Any, settings: Settings, messaging: RecordingMessaging
) -> None:
    limited = dataclasses.replace(settings, rate_limit_account="3/minute")
    client = await aiohttp_client(app_with(limited, messaging))
    agent = await person(client, "agent", "bob")
    socket = await connect(client, agent)  # the handshake is one request of the account
    for number in (1, 2):
        await socket.send_json({"type": "send", "handoff_id": 5, "text": "hi", "client_id": f"c-{number}"})
        assert (await receive(socket))["type"] == "sent"
    await socket.send_json({"type": "send", "handoff_id": 5, "text": "hi", "client_id": "c-3"})
    refused = await receive(socket)
    assert refused["type"] == "error" and refused["client_id"] == "c-3"
    assert refused["error"]["status"] == 429 and refused["error"]["retry_after"] >= 1
    assert len(messaging.calls) == 2
    await socket.close()


async def test_an_ended_session_closes_the_socket(client: TestClient[Any, Any]) -> None:
    agent = await person(client, "agent", "bob")
    socket = await connect(client, agent)
    response = await client.post("/api/auth/logout", headers=agent.headers)
    assert response.status == 204
    await socket.send_json({"type": "send", "handoff_id": 5, "text": "hi", "client_id": "c-1"})
    closing = await asyncio.wait_for(socket.receive(), TIMEOUT)
    assert closing.type == WSMsgType.CLOSE
    assert closing.data == 4401


async def test_shutdown_closes_open_sockets_promptly(
    aiohttp_server: Any, settings: Settings, messaging: RecordingMessaging
) -> None:
    server = await aiohttp_server(app_with(settings, messaging))
    account = await accounts.create_account(
        server.app[DATABASE], "bob@example.com", "Bob", "agent", "correct horse battery staple"
    )
    token = (await accounts.start_session(server.app[DATABASE], account, timedelta(hours=1))).token
    headers = {"Authorization": f"Bearer {token}", "Origin": f"http://{server.host}:{server.port}"}
    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(server.make_url(PATH), headers=headers) for _ in range(2)]
        for socket in sockets:
            assert (await receive(socket))["type"] == "ready"
        loop = asyncio.get_running_loop()
        started = loop.time()
        closing = [asyncio.ensure_future(socket.receive()) for socket in sockets]
        await asyncio.wait_for(server.close(), TIMEOUT)
        assert loop.time() - started < 2.0, "shutdown waited for the open sockets"
        for message in await asyncio.gather(*closing):
            assert message.type == WSMsgType.CLOSE and message.data == 1001


async def test_the_console_page_is_a_public_shell_that_runs_only_its_own_files(
    aiohttp_client: Any, settings: Settings, messaging: RecordingMessaging
) -> None:
    unsigned = await aiohttp_client(app_with(settings, messaging), sign=False)
    response = await unsigned.get("/console")
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    page = await response.text()
    for asset in ("/static/shared/session.js", "/static/console/console.js", "/static/console/console.css"):
        assert asset in page
        assert (await unsigned.get(asset)).status == 200
    # No inline script or handler: the policy would block it.
    assert "onclick" not in page and "<script>" not in page
    assert (await unsigned.head("/console")).status == 200
