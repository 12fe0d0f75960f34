"""What customers may send through the running Rasa server's channels (bot/channels/, issue 9):

- on the widget's socket.io channel a typed `/intent{...}` counts only when it is a button the bot has just
  offered: `/EXTERNAL_onboarding_nudge` and `/rate{"csat": 99}` are read as words, an offered button works;
- on every channel a message over 2,000 characters gets a polite answer at once, and never reaches NLU or the
  conversation.

What Rasa understood is read from its event stream (the SQLite file of the SQL event broker), what was stored
from cs_backend's database.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from typing import Any

import pytest
from chat_clients import RestChat, SocketChat
from e2e_support import RunningService

pytestmark = pytest.mark.asyncio(loop_scope="session")

LONG_MESSAGE = "my export is broken " * 5_000  # 100,000 characters
# The refusal is answered before NLU: far below the minute such a message used to take.
POLITE_ANSWER_WITHIN_SECONDS = 2.0


def user_events(service: RunningService, sender: str) -> list[dict[str, Any]]:
    """The user messages of a conversation as Rasa understood them (its event broker's stream)."""
    with sqlite3.connect(service.env["RASA_EVENTS_DB"]) as connection:
        rows = connection.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,))
        events = [json.loads(data) for (data,) in rows]
    return [event for event in events if event["event"] == "user"]


def understood(event: dict[str, Any]) -> tuple[str, str, list[tuple[str, Any]]]:
    parse_data = event["parse_data"]
    entities = [(entity["entity"], entity["value"]) for entity in parse_data["entities"]]
    return event["text"], parse_data["intent"]["name"], entities


def is_too_long_answer(text: str) -> bool:
    return "too long" in text and "2,000 characters" in text


async def test_typed_intents_on_the_widget_are_read_as_words(service: RunningService) -> None:
    chat = SocketChat(service.ports.rasa_url)
    await chat.connect()
    try:
        await chat.say("hello")
        nudge = await chat.say("/EXTERNAL_onboarding_nudge")
        rating = await chat.say('/rate{"csat": 99}')
    finally:
        await chat.close()

    assert nudge.texts and "Hi again" not in nudge.text, nudge  # the bot answered, but not with the nudge
    assert rating.texts, rating
    # Rasa's two-stage fallback may replay a message (rewind, then the same user event again): compare sets.
    typed = [understood(event) for event in user_events(service, service.widget_sender(chat.token))][1:]
    assert {text for text, _, _ in typed} == {"EXTERNAL_onboarding_nudge", 'rate{"csat": 99}'}
    assert all(intent != "EXTERNAL_onboarding_nudge" for _, intent, _ in typed), typed
    assert all(("csat", 99) not in entities for _, _, entities in typed), typed
    scores = service.query(
        "SELECT f.score FROM feedback f JOIN conversations c ON c.id = f.conversation_id"
        " WHERE c.sender_id = ?",
        service.widget_sender(chat.token),
    )
    assert scores == []  # the typed payload stored no rating for this conversation


async def test_an_offered_button_still_works_on_the_widget(service: RunningService) -> None:
    chat = SocketChat(service.ports.rasa_url)
    await chat.connect()
    try:
        turn = await chat.say("I want to cancel my subscription")
        payload = '/inform{"cancel_reason": "too_expensive"}'
        assert payload in [button["payload"] for button in turn.buttons], turn
        turn = await chat.say(payload)
    finally:
        await chat.close()

    assert "50%" in turn.text, turn.text
    pressed = understood(user_events(service, service.widget_sender(chat.token))[-1])
    assert pressed == (payload, "inform", [("cancel_reason", "too_expensive")])


async def test_a_100000_character_message_gets_the_polite_answer_at_once_on_the_widget(
    service: RunningService,
) -> None:
    chat = SocketChat(service.ports.rasa_url)
    await chat.connect()
    try:
        await chat.say("hello")
        started = time.monotonic()
        await chat.client.emit("user_uttered", {"message": LONG_MESSAGE})
        answer = await asyncio.wait_for(chat.inbox.get(), 30)
        elapsed = time.monotonic() - started
        after = await chat.say("I found a bug")
    finally:
        await chat.close()

    assert is_too_long_answer(answer["text"]), answer
    assert elapsed < POLITE_ANSWER_WITHIN_SECONDS, f"the answer took {elapsed:.2f} s"
    assert after.texts  # the conversation goes on
    assert [event["text"] for event in user_events(service, service.widget_sender(chat.token))] == [
        "hello",
        "I found a bug",
    ]


async def test_a_100000_character_message_gets_the_polite_answer_at_once_over_rest(
    service: RunningService,
) -> None:
    chat = RestChat(service.ports.rasa_url, service.rest_token)
    started = time.monotonic()
    turn = await chat.say(LONG_MESSAGE)
    elapsed = time.monotonic() - started

    assert len(turn.texts) == 1 and is_too_long_answer(turn.text), turn
    assert elapsed < POLITE_ANSWER_WITHIN_SECONDS, f"the answer took {elapsed:.2f} s"
    assert user_events(service, chat.sender) == []  # never reached the conversation
    assert not service.query("SELECT id FROM conversations WHERE sender_id = ?", chat.sender)
