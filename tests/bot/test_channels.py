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
from bot.channels.message_text import NO_TEXT_ANSWER, MaxCharsError
from bot.channels.rest import CheckedRestInput
from bot.channels.socketio import CheckedSocketIOInput
from tests.support import REPO_ROOT

TOO_LONG = "That message is too long for me — could you shorten it to 2,000 characters or fewer?"
PRIORITY = '/inform{"priority": "urgent"}'


@dataclass
class RecordingAgent:
    """What the channels use of Rasa's agent: its handler of messages, tracker store and lock store."""

    tracker_store: InMemoryTrackerStore = field(default_factory=lambda: InMemoryTrackerStore(Domain.empty()))
    lock_store: InMemoryLockStore = field(default_factory=InMemoryLockStore)
    handled: list[str | None] = field(default_factory=list)
    metadata: list[Any] = field(default_factory=list)

    async def handle_message(self, message: UserMessage) -> None:
        self.handled.append(message.text)
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
            session.post(f"{self.url}/webhooks/rest/webhook", json=body) as reply,
        ):
            assert reply.status == 200
            return [answer["text"] for answer in await reply.json()]


class WidgetClient:
    """A socket.io client speaking as cs_backend/web/static/widget.js does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session_id = uuid.uuid4().hex
        self.client = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.client.on("bot_uttered", self.inbox.put)

    async def __aenter__(self) -> WidgetClient:
        confirmed = asyncio.Event()
        self.client.on("session_confirm", lambda _: confirmed.set())
        await self.client.connect(self.url, transports=["websocket"], socketio_path="/socket.io")
        await self.client.emit("session_request", {"session_id": self.session_id})
        await asyncio.wait_for(confirmed.wait(), 5)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.disconnect()

    async def send(self, message: Any) -> None:
        await self.client.emit("user_uttered", {"message": message, "session_id": self.session_id})

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


def test_credentials_yml_registers_the_checked_channels_under_rasas_names() -> None:
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
            f"{server.url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
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
        await server.agent.bot_turn(widget.session_id, BotUttered("Priority?", data={"buttons": buttons}))

        assert await widget.say(PRIORITY) == f"handled: {PRIORITY}"
        assert await widget.say('/inform{"priority": "low"}') == 'handled: inform{"priority": "low"}'
        assert await widget.say('/rate{"csat": 99}') == 'handled: rate{"csat": 99}'
        assert await widget.say("/EXTERNAL_x") == "handled: EXTERNAL_x"
        assert await widget.say("/") == NO_TEXT_ANSWER

        await server.agent.bot_turn(widget.session_id, BotUttered("Anything else?"))
        assert await widget.say(PRIORITY) == f"handled: {PRIORITY.removeprefix('/')}"


async def test_a_button_pressed_while_the_bots_turn_is_saved_counts(server: ChannelServer) -> None:
    async with WidgetClient(server.url) as widget:
        async with server.agent.lock_store.lock(widget.session_id):  # Rasa still handles the previous message
            await widget.send(PRIORITY)
            await asyncio.sleep(0.3)
            assert server.agent.handled == []
            offer = BotUttered("Priority?", data={"buttons": [{"title": "Urgent", "payload": PRIORITY}]})
            await server.agent.bot_turn(widget.session_id, offer)
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
            await widget.client.emit(
                "user_uttered", {"message": "hi", "session_id": widget.session_id, "metadata": metadata}
            )
            assert str((await asyncio.wait_for(widget.inbox.get(), 5))["text"]) == "handled: hi"
    assert server.agent.metadata[-2:] == [{"page": "/pricing"}, {"page": "/docs"}]
    assert all(isinstance(metadata, dict) or metadata is None for metadata in server.agent.metadata)
