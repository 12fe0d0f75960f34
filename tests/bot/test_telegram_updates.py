"""bot/channels/telegram_updates.py: what a Telegram update says to the assistant, and Telegram's `/start`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.channels.telegram_updates import IncomingMessage, incoming_message, start_command_payload

BOT = "AcmeSupportBot"


@pytest.mark.parametrize(
    ("text", "payload"),
    [
        ("/start", "/greet"),
        ("  /start  ", "/greet"),
        (f"/start@{BOT}", "/greet"),
        (f"/start@{BOT.lower()} abc", '/link_account{"link_code": "abc"}'),
        ("/start abc", '/link_account{"link_code": "abc"}'),
        (
            "/start Zx_9-" + "a" * 59,
            json.dumps({"link_code": "Zx_9-" + "a" * 59}).join(["/link_account", ""]),
        ),
        # Not a deep-link token (Telegram never sends these; a person may type them): a greeting.
        ("/start " + "a" * 65, "/greet"),
        ('/start abc"}, {"x": "y', "/greet"),
        ("/start two words", "/greet"),
        # Not /start, or not for this bot: not the channel's.
        ("/started", None),
        ("/start@OtherBot abc", None),
        ("start abc", None),
        ("/help", None),
    ],
)
def test_start_becomes_a_greeting_or_the_account_link(text: str, payload: str | None) -> None:
    assert start_command_payload(text, BOT) == payload


def _message(**fields: Any) -> dict[str, Any]:
    return {
        "message_id": 5,
        "from": {"id": 42, "is_bot": False},
        "chat": {"id": -100, "type": "group"},
        **fields,
    }


def test_a_message_names_its_chat_and_its_writer() -> None:
    assert incoming_message({"update_id": 1, "message": _message(text="hi")}, BOT) == IncomingMessage(
        update_id=1, chat_id="-100", user_id="42", text="hi"
    )
    started = incoming_message({"update_id": 2, "message": _message(text="/start t0ken")}, BOT)
    assert started == IncomingMessage(
        2, "-100", "42", '/link_account{"link_code": "t0ken"}', from_channel=True
    )


def test_a_message_without_text_is_no_text() -> None:
    photo = incoming_message({"update_id": 1, "message": _message(photo=[{"file_id": "x"}])}, BOT)
    assert photo is not None and photo.text == ""


def test_a_button_press_is_its_payload_in_the_chat_of_the_message() -> None:
    update = {
        "update_id": 3,
        "callback_query": {
            "id": "77",
            "from": {"id": 42},
            "message": _message(text="Hi"),
            "data": "/get_started",
        },
    }
    assert incoming_message(update, BOT) == IncomingMessage(
        3, "-100", "42", "/get_started", callback_query_id="77"
    )


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 1, "edited_message": _message(text="hi again")},
        {"update_id": 1, "my_chat_member": {"chat": {"id": 1}}},
        {"update_id": 1, "message": {"text": "no chat"}},
        {"update_id": 1, "message": _message(text="x", chat={"id": "1"})},
        {"update_id": 1, "callback_query": {"id": "1", "from": {"id": 42}, "data": "/x"}},
        {"update_id": "1", "message": _message(text="hi")},
    ],
)
def test_anything_else_carries_no_message(update: dict[str, Any]) -> None:
    assert incoming_message(update, BOT) is None
