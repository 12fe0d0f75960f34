"""The widget's channel and the website's signed-in user (bot/channels/website_identity.py): a user id whose
HMAC verifies is the socket's and reaches Rasa in the metadata; a bad, missing or absent secret's pair is
refused; the browser cannot forge the key; a visitor verified mid-conversation starts a new session."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rasa.shared.core.constants import SESSION_START_METADATA_SLOT
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.rest import TOKEN_VARIABLE as REST_TOKEN_VARIABLE
from bot.channels.website_identity import SECRET_VARIABLE, VERIFIED_USER_KEY, WebsiteIdentity, user_hash
from tests.bot.test_channels import REST_TOKEN, ChannelServer, WidgetClient, channel_server

SITE_SECRET = "website-identity-secret-of-the-tests-0123456789"


@pytest.fixture
async def site(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ChannelServer]:
    monkeypatch.setenv(SECRET_VARIABLE, SITE_SECRET)
    monkeypatch.setenv(REST_TOKEN_VARIABLE, REST_TOKEN)
    async for running in channel_server(monkeypatch):
        yield running


class SignedInWidget(WidgetClient):
    """The widget of a page that passes `{userId, userHash}` in its config."""

    def __init__(self, url: str, user_id: Any, user_hash: Any, token: Any = None) -> None:
        super().__init__(url, token)
        self.user = {"user_id": user_id, "user_hash": user_hash}
        self.refusals: asyncio.Queue[Any] = asyncio.Queue()
        self.client.on("identity_refused", self.refusals.put)

    async def request_session(self, presented: Any) -> str:
        await self.client.emit("session_request", {"session_id": presented, **self.user})
        self.token = await asyncio.wait_for(self.confirmations.get(), 5)
        return str(self.token)


def signed_in(server: ChannelServer, user_id: str, token: Any = None) -> SignedInWidget:
    return SignedInWidget(server.url, user_id, user_hash(SITE_SECRET, user_id), token)


async def test_a_verified_user_reaches_rasa_in_the_metadata_and_cannot_be_forged(site: ChannelServer) -> None:
    async with signed_in(site, "user-42") as widget:
        assert await widget.say("hi") == "handled: hi"
        # The browser names another user in its metadata: the socket's verified one is what Rasa gets.
        await widget.client.emit(
            "user_uttered", {"message": "me", "metadata": {VERIFIED_USER_KEY: "admin", "page": "/"}}
        )
        await asyncio.wait_for(widget.inbox.get(), 5)
    async with WidgetClient(site.url) as visitor:
        await visitor.client.emit(
            "user_uttered", {"message": "x", "metadata": f'{{"{VERIFIED_USER_KEY}": "u"}}'}
        )
        await asyncio.wait_for(visitor.inbox.get(), 5)
    assert site.agent.metadata == [
        {VERIFIED_USER_KEY: "user-42"},
        {VERIFIED_USER_KEY: "user-42", "page": "/"},
        {VERIFIED_USER_KEY: None},
    ]


@pytest.mark.parametrize(
    ("user_id", "presented_hash"),
    [
        ("user-42", user_hash("another-secret-of-another-site-0123456789", "user-42")),  # bad signature
        ("user-42", user_hash(SITE_SECRET, "user-43")),  # another user's hash
        ("user-42", None),  # missing hash
        (None, user_hash(SITE_SECRET, "user-42")),  # missing user id
        ("user-42", "é" * 64),  # not hex
        (["user-42"], user_hash(SITE_SECRET, "user-42")),  # not a string
    ],
)
async def test_a_pair_that_does_not_verify_is_refused_and_nothing_is_attributed(
    site: ChannelServer, caplog: pytest.LogCaptureFixture, user_id: Any, presented_hash: Any
) -> None:
    caplog.set_level(logging.INFO)
    widget = SignedInWidget(site.url, user_id, presented_hash)
    await widget.client.connect(site.url, transports=["websocket"], socketio_path="/socket.io")
    try:
        await widget.client.emit("session_request", {"session_id": None, **widget.user})
        await asyncio.wait_for(widget.refusals.get(), 5)
        assert widget.confirmations.empty()
        await widget.send("who am I")  # a socket without a session is not heard
        await asyncio.sleep(0.3)
    finally:
        await widget.client.disconnect()
    assert site.agent.handled == []
    refusals = [record.getMessage() for record in caplog.records if "does not verify" in record.getMessage()]
    assert len(refusals) == 1
    if isinstance(presented_hash, str):
        assert presented_hash not in caplog.text  # the hash is a credential


def test_without_a_secret_no_user_verifies() -> None:
    assert WebsiteIdentity(None).verified_user("user-42", user_hash("", "user-42")) is None
    identity = WebsiteIdentity(SITE_SECRET)
    assert identity.verified_user("user-42", user_hash(SITE_SECRET, "user-42").upper()) == "user-42"
    assert identity.verified_user(" user-42", user_hash(SITE_SECRET, " user-42")) is None


async def test_a_visitor_who_signs_in_starts_a_session_carrying_the_user(site: ChannelServer) -> None:
    async with WidgetClient(site.url) as visitor:
        assert await visitor.say("hello") == "handled: hello"
        await site.agent.bot_turn(visitor.sender_id)  # the conversation exists in the tracker store
        token = visitor.token
    async with signed_in(site, "user-42", token=token) as widget:
        assert widget.token == token  # the same conversation, now verified
        assert (await asyncio.wait_for(widget.inbox.get(), 5))["text"] == "handled: /session_start"
    assert site.agent.handled == ["hello", "/session_start"]
    assert site.agent.metadata[-1] == {VERIFIED_USER_KEY: "user-42"}


async def test_a_conversation_started_by_another_user_is_not_resumed(site: ChannelServer) -> None:
    async with signed_in(site, "alice") as alice:
        token, sender = alice.token, alice.sender_id
    started_by_alice = DialogueStateTracker.from_events(
        sender,
        [SlotSet(SESSION_START_METADATA_SLOT, {VERIFIED_USER_KEY: "alice"}), UserUttered("hi")],
        slots=site.agent.tracker_store.domain.slots,
    )
    await site.agent.tracker_store.save(started_by_alice)
    async with signed_in(site, "bob", token=token) as bob:
        assert bob.token != token
    async with signed_in(site, "alice", token=token) as again:
        assert again.token == token
    assert site.agent.handled == []  # no session restarted for either
