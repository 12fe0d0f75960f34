"""bot/channels: the channels of credentials.yml on a Sanic server, and an agent recording what reaches it.

The server is a real Sanic app with the channels registered the way `rasa run` registers them; the agent is a
stand-in with Rasa's in-memory tracker and lock stores, so each test sees exactly which messages would have
reached NLU and whether the conversation's tracker was touched.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import socketio
from rasa.core.channels.channel import UserMessage, register
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.run import create_http_input_channels
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from bot.channels.chat_rate import TOO_MANY_ANSWER, ChatRateLimitError
from bot.channels.message_ids import SeenMessageIds, message_id
from bot.channels.message_text import NO_TEXT_ANSWER, MaxCharsError
from bot.channels.rest import TOKEN_VARIABLE as REST_TOKEN_VARIABLE
from bot.channels.rest import CheckedRestInput
from bot.channels.socketio import ORIGINS_VARIABLE, CheckedSocketIOInput
from bot.channels.widget_sessions import SECRET_VARIABLE, WidgetSessions, WidgetSessionSecretError
from tests.support import REPO_ROOT

TOO_LONG = "That message is too long for me — could you shorten it to 2,000 characters or fewer?"
WIDGET_SECRET = "widget-session-secret-of-the-tests-0123456789"
SESSIONS = WidgetSessions(WIDGET_SECRET)
WEBSITE = "https://www.example.com"
PRIORITY = '/inform{"priority": "urgent"}'
REST_TOKEN = "rest-channel-token-of-the-tests"
REST_AUTHORIZATION = {"Authorization": f"Bearer {REST_TOKEN}"}


@pytest.fixture(autouse=True)
def rest_channel_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The REST channel does not start without its token (bot/channels/rest.py)."""
    monkeypatch.setenv(REST_TOKEN_VARIABLE, REST_TOKEN)


@dataclass
class RecordingAgent:
    """What the channels use of Rasa's agent: its handler of messages, tracker store and lock store."""

    tracker_store: InMemoryTrackerStore = field(default_factory=lambda: InMemoryTrackerStore(Domain.empty()))
    lock_store: InMemoryLockStore = field(default_factory=InMemoryLockStore)
    handled: list[str | None] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)
    metadata: list[Any] = field(default_factory=list)

    async def handle_message(self, message: UserMessage) -> None:
        self.handled.append(message.text)
        self.senders.append(message.sender_id)
        self.metadata.append(message.metadata)
        await message.output_channel.send_text_message(message.sender_id, f"handled: {message.text}")

    async def has_tracker(self, sender_id: str) -> bool:
        return await self.tracker_store.retrieve(sender_id) is not None

    async def bot_turn(self, sender_id: str, *events: Event) -> None:
        tracker = DialogueStateTracker.from_events(sender_id, [UserUttered("hi"), *events])
        await self.tracker_store.save(tracker)


@dataclass
class ChannelServer:
    url: str
    agent: RecordingAgent

    async def rest(self, sender: str, message: Any) -> list[str]:
        body = {"sender": sender, "message": message}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}/webhooks/rest/webhook", json=body, headers=REST_AUTHORIZATION) as reply,
        ):
            assert reply.status == 200
            return [answer["text"] for answer in await reply.json()]


class WidgetClient:
    """A socket.io client speaking as cs_backend/web/static/widget.js does: it presents `token` (None: asks
    for a new session) and keeps the token the server confirms."""

    def __init__(self, url: str, token: Any = None, transport: str = "websocket") -> None:
        self.url = url
        self.token = token
        self.transport = transport
        self.client = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.client.on("bot_uttered", self.inbox.put)
        self.confirmations: asyncio.Queue[Any] = asyncio.Queue()
        self.client.on("session_confirm", self.confirmations.put)

    async def __aenter__(self) -> WidgetClient:
        await self.client.connect(self.url, transports=[self.transport], socketio_path="/socket.io")
        await self.request_session(self.token)
        return self

    async def request_session(self, presented: Any) -> str:
        await self.client.emit("session_request", {"session_id": presented})
        self.token = await asyncio.wait_for(self.confirmations.get(), 5)
        return str(self.token)

    @property
    def sender_id(self) -> str:
        """The conversation's sender id, which only the server (holding the secret) knows."""
        return SESSIONS.sender_id(str(self.token))

    async def __aexit__(self, *_: object) -> None:
        await self.client.disconnect()

    async def send(self, message: Any) -> None:
        await self.client.emit("user_uttered", {"message": message})

    async def say(self, message: Any) -> str:
        await self.send(message)
        answer = await asyncio.wait_for(self.inbox.get(), 5)
        return str(answer["text"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ChannelServer]:
    async for running in channel_server(monkeypatch):
        yield running


@pytest.fixture
async def limited_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ChannelServer]:
    """The channels with a limit of 3 messages per conversation per minute."""
    monkeypatch.setenv("CHAT_MESSAGES_PER_WINDOW", "3")
    monkeypatch.setenv("CHAT_RATE_WINDOW_SECONDS", "60")
    async for running in channel_server(monkeypatch):
        yield running


async def channel_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ChannelServer]:
    # Sanic 21.12 rewrites its request handler once per process unless in test mode (then for every app).
    monkeypatch.setattr(Sanic, "test_mode", True)
    monkeypatch.setenv(SECRET_VARIABLE, WIDGET_SECRET)
    monkeypatch.setenv(ORIGINS_VARIABLE, f"{WEBSITE}, http://127.0.0.1:8000")
    app = Sanic(f"channels_{uuid.uuid4().hex}", configure_logging=False)
    app.ctx.agent = RecordingAgent()
    register(create_http_input_channels(None, str(REPO_ROOT / "credentials.yml")), app, "/webhooks/")
    port = free_port()
    running = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    assert running is not None
    await running.startup()
    await running.start_serving()
    try:
        yield ChannelServer(f"http://127.0.0.1:{port}", app.ctx.agent)
    finally:
        running.close()
        await running.wait_closed()


def test_credentials_yml_registers_the_checked_channels_under_rasas_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_VARIABLE, WIDGET_SECRET)
    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
    assert {(type(c), c.name()) for c in channels} == {
        (CheckedRestInput, "rest"),
        (CheckedSocketIOInput, "socketio"),
    }
    widget = next(c for c in channels if isinstance(c, CheckedSocketIOInput))
    assert (widget.user_message_evt, widget.bot_message_evt, widget.session_persistence) == (
        "user_uttered",
        "bot_uttered",
        True,
    )


def test_a_wrong_limit_stops_the_channels_from_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_VARIABLE, WIDGET_SECRET)
    monkeypatch.setenv("CHAT_MESSAGE_MAX_CHARS", "many")
    with pytest.raises(MaxCharsError):
        CheckedRestInput()
    with pytest.raises(MaxCharsError):
        CheckedSocketIOInput.from_credentials({})


def test_a_wrong_rate_limit_stops_the_channels_from_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in (("CHAT_MESSAGES_PER_WINDOW", "0"), ("CHAT_RATE_WINDOW_SECONDS", "soon")):
        with monkeypatch.context() as patched:
            patched.setenv(variable, value)
            with pytest.raises(ChatRateLimitError, match=variable):
                CheckedRestInput()
            with pytest.raises(ChatRateLimitError, match=variable):
                CheckedSocketIOInput.from_credentials({})


async def test_rest_answers_a_flood_politely_and_rasa_never_sees_it(limited_server: ChannelServer) -> None:
    for number in range(3):
        assert await limited_server.rest("flood", f"question {number}") == [f"handled: question {number}"]
    for _ in range(5):
        assert await limited_server.rest("flood", "one more") == [TOO_MANY_ANSWER]
    assert limited_server.agent.handled == ["question 0", "question 1", "question 2"]
    # Per conversation: another sender is not slowed by this one.
    assert await limited_server.rest("calm", "hello") == ["handled: hello"]
    assert not await limited_server.agent.has_tracker("flood")


async def test_the_widget_gets_the_polite_answer_to_a_flood(limited_server: ChannelServer) -> None:
    async with WidgetClient(limited_server.url) as widget:
        for number in range(3):
            assert await widget.say(f"question {number}") == f"handled: question {number}"
        assert await widget.say("one more") == TOO_MANY_ANSWER
        # The flood is answered before the message is even measured.
        assert await widget.say("z" * 100_000) == TOO_MANY_ANSWER
    assert limited_server.agent.handled == ["question 0", "question 1", "question 2"]


async def test_rest_refuses_a_long_message_politely_without_touching_rasa(server: ChannelServer) -> None:
    assert await server.rest("long", "x" * 100_000) == [TOO_LONG]
    assert await server.rest("long", "x" * 2_001) == [TOO_LONG]
    assert server.agent.handled == []
    assert not await server.agent.has_tracker("long")
    assert await server.rest("long", "x" * 2_000) == ["handled: " + "x" * 2_000]


async def test_rest_cleans_control_characters_and_refuses_what_is_not_text(server: ChannelServer) -> None:
    assert await server.rest("clean", "my\x00 export\x1b is\r\n broken") == ["handled: my export is\n broken"]
    for not_text in ("", "  \x00\x07 ", 42, None, ["hi"], {"text": "hi"}):
        assert await server.rest("clean", not_text) == [NO_TEXT_ANSWER], not_text
    assert server.agent.handled == ["my export is\n broken"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "body"),
        (b"[1, 2]", "body"),
        (b"null", "body"),
        (b'"hello"', "body"),
        (b"42", "body"),
        (b'{"sender": "s", "message": "hi"', "body"),
        (b"\xff\xfe{}", "body"),
        (b"[" * 100_000, "body"),
        (b'{"message": "hi"}', "sender"),
        (b'{"sender": null, "message": "hi"}', "sender"),
        (b'{"sender": 42, "message": "hi"}', "sender"),
        (b'{"sender": ["s"], "message": "hi"}', "sender"),
        (b'{"sender": "", "message": "hi"}', "sender"),
        (b'{"sender": "a\\u0000b", "message": "hi"}', "sender"),
        (b'{"sender": "\\ud800", "message": "hi"}', "sender"),
        (('{"sender": "' + "s" * 201 + '", "message": "hi"}').encode(), "sender"),
        (b'{"sender": "s", "message": "hi", "metadata": [1]}', "metadata"),
        (b'{"sender": "s", "message": "hi", "metadata": "{}"}', "metadata"),
        (b'{"sender": "s", "message": "hi", "input_channel": 5}', "input_channel"),
    ],
)
async def test_rest_refuses_a_body_it_cannot_read_with_a_json_400(
    server: ChannelServer, body: bytes, field: str
) -> None:
    # Rasa's handler answered 500 to a body that is not a JSON object (it calls .get on whatever was parsed).
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.url}/webhooks/rest/webhook",
            data=body,
            headers={"Content-Type": "application/json", **REST_AUTHORIZATION},
        ) as reply,
    ):
        assert reply.status == 400, await reply.text()
        error = (await reply.json())["error"]
    assert error["status"] == 400 and error["message"] == "invalid request body"
    assert set(error["fields"]) == {field} and error["fields"][field]
    assert server.agent.handled == []
    assert await server.rest("after", "hello") == ["handled: hello"]  # the channel goes on


async def test_rest_is_trusted_with_payloads_but_never_with_an_external_intent(server: ChannelServer) -> None:
    assert await server.rest("rest", '/rate{"csat": 5}') == ['handled: /rate{"csat": 5}']
    assert await server.rest("rest", "/EXTERNAL_onboarding_nudge") == ["handled: EXTERNAL_onboarding_nudge"]
    assert not await server.agent.has_tracker("rest")


async def test_the_widget_may_press_only_the_buttons_just_offered(server: ChannelServer) -> None:
    async with WidgetClient(server.url) as widget:
        buttons = [{"title": "Urgent", "payload": PRIORITY}, {"title": "Nudge", "payload": "/EXTERNAL_x"}]
        await server.agent.bot_turn(widget.sender_id, BotUttered("Priority?", data={"buttons": buttons}))

        assert await widget.say(PRIORITY) == f"handled: {PRIORITY}"
        assert await widget.say('/inform{"priority": "low"}') == 'handled: inform{"priority": "low"}'
        assert await widget.say('/rate{"csat": 99}') == 'handled: rate{"csat": 99}'
        assert await widget.say("/EXTERNAL_x") == "handled: EXTERNAL_x"
        assert await widget.say("/") == NO_TEXT_ANSWER

        await server.agent.bot_turn(widget.sender_id, BotUttered("Anything else?"))
        assert await widget.say(PRIORITY) == f"handled: {PRIORITY.removeprefix('/')}"


async def test_a_button_pressed_while_the_bots_turn_is_saved_counts(server: ChannelServer) -> None:
    async with WidgetClient(server.url) as widget:
        async with server.agent.lock_store.lock(widget.sender_id):  # Rasa still handles the previous message
            await widget.send(PRIORITY)
            await asyncio.sleep(0.3)
            assert server.agent.handled == []
            offer = BotUttered("Priority?", data={"buttons": [{"title": "Urgent", "payload": PRIORITY}]})
            await server.agent.bot_turn(widget.sender_id, offer)
        answer = await asyncio.wait_for(widget.inbox.get(), 5)
    assert answer["text"] == f"handled: {PRIORITY}"


async def test_the_widget_gets_the_polite_answers_and_nothing_reaches_rasa(server: ChannelServer) -> None:
    async with WidgetClient(server.url) as widget:
        assert await widget.say("y" * 100_000) == TOO_LONG
        assert await widget.say(" \x00 ") == NO_TEXT_ANSWER
        assert await widget.say(12) == NO_TEXT_ANSWER
        await widget.client.emit("user_uttered", "not an object")
        assert await widget.say("hello\x00") == "handled: hello"
        assert server.agent.handled == ["hello"]


async def test_widget_metadata_that_is_not_an_object_is_dropped_not_a_crash(server: ChannelServer) -> None:
    async with WidgetClient(server.url) as widget:
        for metadata in ("{not json", "[1, 2]", 7, '{"page": "/pricing"}', {"page": "/docs"}):
            await widget.client.emit("user_uttered", {"message": "hi", "metadata": metadata})
            assert str((await asyncio.wait_for(widget.inbox.get(), 5))["text"]) == "handled: hi"
    # The channel adds the socket's verified website user (none here; tests/bot/test_website_identity.py).
    visitor = {"verified_website_user": None}
    assert server.agent.metadata[-2:] == [{"page": "/pricing", **visitor}, {"page": "/docs", **visitor}]
    assert all(isinstance(metadata, dict) or metadata is None for metadata in server.agent.metadata)


async def test_a_widget_message_is_acknowledged_once_handled_and_a_resend_reaches_rasa_once(
    server: ChannelServer,
) -> None:
    async with WidgetClient(server.url) as widget:
        ack = await widget.client.call(
            "user_uttered", {"message": "my invoice", "message_id": "m-1"}, timeout=5
        )
        assert ack is None  # acknowledged after Rasa handled it: its answer came before
        assert (await asyncio.wait_for(widget.inbox.get(), 5))["text"] == "handled: my invoice"
        sender = widget.sender_id
    # The acknowledgement was lost with the connection: the widget sends it again from another socket.
    async with WidgetClient(server.url, token=widget.token) as again:
        await again.client.call("user_uttered", {"message": "my invoice", "message_id": "m-1"}, timeout=5)
        await again.client.call("user_uttered", {"message": "thanks", "message_id": "m-2"}, timeout=5)
        # An id is the widget's within its conversation: another conversation may use the same one.
        async with WidgetClient(server.url) as other:
            await other.client.call("user_uttered", {"message": "hi", "message_id": "m-1"}, timeout=5)
    assert server.agent.handled == ["my invoice", "thanks", "hi"]
    assert server.agent.senders[:2] == [sender, sender]


def test_message_ids_are_remembered_up_to_their_capacity() -> None:
    seen = SeenMessageIds(capacity=2)
    assert seen.first_time("a", "1") and seen.first_time("a", "2") and seen.first_time("b", "1")
    assert not seen.first_time("b", "1")
    assert seen.first_time("a", "1")  # the oldest was forgotten
    assert [message_id(value) for value in ("x" * 64, "x" * 65, "", 7, None)] == [
        "x" * 64,
        None,
        None,
        None,
        None,
    ]


# --- sessions: issued and signed by the server, one per socket ----------------------------------------------


async def test_a_new_widget_gets_a_signed_session_and_speaks_as_its_sender_id(server: ChannelServer) -> None:
    async with WidgetClient(server.url) as widget:
        assert SESSIONS.verified(widget.token) == widget.token
        assert await widget.say("hello") == "handled: hello"
    assert server.agent.senders == [SESSIONS.sender_id(widget.token)]
    assert widget.token not in server.agent.senders[0]


async def test_a_presented_token_resumes_its_conversation_on_another_socket(server: ChannelServer) -> None:
    async with WidgetClient(server.url) as first:
        second = WidgetClient(server.url, token=first.token)
        async with second:
            assert second.token == first.token
            assert await second.say("still me") == "handled: still me"
            # The reply goes to the conversation's room: every socket of the session gets it.
            assert (await asyncio.wait_for(first.inbox.get(), 5))["text"] == "handled: still me"
    assert server.agent.senders == [SESSIONS.sender_id(first.token)]


def forged_tokens(victim_token: str) -> list[Any]:
    """What someone without the secret can present instead of the victim's token."""
    random_part, signature = victim_token.split(".")
    return [
        SESSIONS.sender_id(victim_token),  # the sender id agents see
        uuid.uuid4().hex,  # a session id as the widget used to make them up
        f"{random_part}.{'A' * len(signature)}",  # a made-up signature
        WidgetSessions("another-secret-of-at-least-32-characters").issue(),
        f"{random_part}A.{signature}",
        f"{victim_token}=",
        "",
        None,
        42,
        {"session_id": victim_token},
    ]


async def test_no_one_gets_the_session_of_a_token_they_cannot_sign(server: ChannelServer) -> None:
    async with WidgetClient(server.url) as victim:
        for forged in forged_tokens(victim.token):
            async with WidgetClient(server.url, token=forged) as intruder:
                assert intruder.token not in (victim.token, forged)
                assert SESSIONS.verified(intruder.token) == intruder.token
                assert await intruder.say("whose conversation?") == "handled: whose conversation?"
                assert await victim.say("my secret") == "handled: my secret"
                await asyncio.sleep(0.1)
                assert intruder.inbox.empty(), forged  # the victim's reply never reached the intruder
                assert victim.inbox.empty(), forged  # nor the intruder's the victim
    victim_sender = SESSIONS.sender_id(victim.token)
    assert server.agent.senders.count(victim_sender) == len(forged_tokens(victim.token))
    assert len(set(server.agent.senders)) == 1 + len(forged_tokens(victim.token))


async def test_a_message_speaks_for_its_sockets_session_whatever_session_id_it_names(
    server: ChannelServer,
) -> None:
    async with WidgetClient(server.url) as victim, WidgetClient(server.url) as intruder:
        for claimed in (victim.sender_id, victim.token):
            await intruder.client.emit("user_uttered", {"message": "as the victim", "session_id": claimed})
            assert (await asyncio.wait_for(intruder.inbox.get(), 5))["text"] == "handled: as the victim"
        await asyncio.sleep(0.1)
        assert victim.inbox.empty()
    assert server.agent.senders == [intruder.sender_id, intruder.sender_id]
    assert not await server.agent.has_tracker(victim.sender_id)


async def test_a_socket_without_a_session_is_not_heard(server: ChannelServer) -> None:
    async with WidgetClient(server.url) as victim:
        client = socketio.AsyncClient(reconnection=False)
        replies: asyncio.Queue[Any] = asyncio.Queue()
        client.on("bot_uttered", replies.put)
        await client.connect(server.url, transports=["websocket"], socketio_path="/socket.io")
        try:
            await client.emit("user_uttered", {"message": "hello", "session_id": victim.sender_id})
            await client.emit("user_uttered", {"message": "hello", "session_id": victim.token})
            await asyncio.sleep(0.3)
        finally:
            await client.disconnect()
    assert server.agent.handled == [] and replies.empty()


async def test_a_socket_that_asks_again_leaves_its_former_conversation(server: ChannelServer) -> None:
    async with WidgetClient(server.url) as first, WidgetClient(server.url) as switching:
        former = switching.token
        assert await switching.request_session(first.token) == first.token
        async with WidgetClient(server.url, token=former) as former_owner:
            assert await former_owner.say("anyone?") == "handled: anyone?"
            await asyncio.sleep(0.1)
            assert switching.inbox.empty()
        assert await switching.say("now here") == "handled: now here"
        assert (await asyncio.wait_for(first.inbox.get(), 5))["text"] == "handled: now here"
    assert server.agent.senders == [SESSIONS.sender_id(former), first.sender_id]


# --- origins ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_pages_of_other_origins_cannot_connect(server: ChannelServer, transport: str) -> None:
    for origin in ("https://evil.example", "null", "https://www.example.com.evil.example"):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                server.url, transports=[transport], socketio_path="/socket.io", headers={"Origin": origin}
            )
    for website in (WEBSITE, "http://127.0.0.1:8000", "HTTPS://WWW.EXAMPLE.COM"):
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            server.url, transports=[transport], socketio_path="/socket.io", headers={"Origin": website}
        )
        await client.disconnect()


async def test_the_handshake_of_a_foreign_origin_is_refused_before_engineio(server: ChannelServer) -> None:
    handshake = f"{server.url}/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as session:
        async with session.get(handshake, headers={"Origin": "https://evil.example"}) as answer:
            assert answer.status == 403
            assert "Access-Control-Allow-Origin" not in answer.headers
        async with session.get(handshake, headers={"Origin": WEBSITE}) as answer:
            assert answer.status == 200 and (await answer.text()).startswith("0{")
        async with session.get(handshake) as answer:  # no Origin: not a page of another site
            assert answer.status == 200


def test_the_widget_channel_does_not_start_without_a_long_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for secret in (None, "", "x" * 31):
        if secret is None:
            monkeypatch.delenv(SECRET_VARIABLE, raising=False)
        else:
            monkeypatch.setenv(SECRET_VARIABLE, secret)
        with pytest.raises(WidgetSessionSecretError):
            CheckedSocketIOInput.from_credentials({})


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-token", f"Basic {REST_TOKEN}", f"Bearer {REST_TOKEN}x"],
)
async def test_rest_refuses_a_request_without_its_token_before_reading_it(
    server: ChannelServer, authorization: str | None
) -> None:
    # Whoever speaks on this channel speaks as any sender id: only trusted callers hold the token.
    headers = {} if authorization is None else {"Authorization": authorization}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.url}/webhooks/rest/webhook", json={"sender": "s", "message": "hi"}, headers=headers
        ) as reply,
    ):
        assert reply.status == 401, await reply.text()
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        assert "RASA_REST_TOKEN" in (await reply.json())["error"]["message"]
    assert server.agent.handled == []


def test_the_rest_channel_does_not_start_without_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for token in (None, "", "   "):
        with monkeypatch.context() as patched:
            if token is None:
                patched.delenv(REST_TOKEN_VARIABLE, raising=False)
            else:
                patched.setenv(REST_TOKEN_VARIABLE, token)
            with pytest.raises(SystemExit, match="RASA_REST_TOKEN is not set"):
                CheckedRestInput()
