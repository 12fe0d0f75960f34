"""bot/channels/telegram.py's replies against the fake Bot API: buttons as an inline keyboard (short titles
side by side, long ones a row each), and payloads longer than Telegram's callback_data allows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.channels.telegram import MAX_CALLBACK_DATA_BYTES, LongPayloads, TelegramReplies
from tests.bot.telegram_fake_api import FakeTelegramApi

TOKEN = "123456789:AAH-test-token"


@pytest.fixture(scope="module")
def api() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi().running() as running:
        yield running


async def test_short_titles_share_a_row(api: FakeTelegramApi) -> None:
    replies = TelegramReplies(TOKEN, api.url, LongPayloads())
    buttons = [{"title": str(score), "payload": f'/rate{{"csat": {score}}}'} for score in range(1, 6)]
    try:
        await replies.send_text_with_buttons("501", "How did we do?", buttons)
    finally:
        await replies.close()
    [sent] = api.calls("sendMessage", "501")
    assert sent.token == TOKEN
    assert sent.parameters["text"] == "How did we do?"
    assert sent.parameters["reply_markup"] == {
        "inline_keyboard": [[{"text": str(n), "callback_data": f'/rate{{"csat": {n}}}'} for n in range(1, 6)]]
    }


async def test_a_payload_too_long_for_telegram_travels_as_a_digest(api: FakeTelegramApi) -> None:
    long_payloads = LongPayloads()
    replies = TelegramReplies(TOKEN, api.url, long_payloads)
    payload = '/inform{"cancel_reason": "' + "x" * MAX_CALLBACK_DATA_BYTES + '"}'
    try:
        await replies.send_text_with_buttons("502", "Why?", [{"title": "Something else", "payload": payload}])
    finally:
        await replies.close()
    [sent] = api.calls("sendMessage", "502")
    [[button]] = sent.parameters["reply_markup"]["inline_keyboard"]
    assert len(button["callback_data"].encode()) <= MAX_CALLBACK_DATA_BYTES
    assert long_payloads.payload(button["callback_data"]) == payload
    assert long_payloads.payload("/get_started") == "/get_started"
    assert long_payloads.payload("#p:" + "0" * 32) == ""  # forgotten or made up: no text
