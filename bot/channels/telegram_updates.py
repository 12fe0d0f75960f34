"""What a Telegram update (the JSON Telegram POSTs to the webhook, https://core.telegram.org/bots/api#update)
says to the assistant: who wrote, in which chat, and the text Rasa gets.

Pure functions; the channel (telegram.py) applies them. Only a new message and an inline keyboard's button
press (`callback_query`) are conversation; every other kind of update (an edit of an old message, a member
joining, ...) is acknowledged and ignored. A message without text (a photo, a sticker, a location) becomes no
text, which the channel's guard answers politely.

Telegram's own command: `/start` is what the app sends when a person opens the bot, `/start <token>` when
they open a deep link `https://t.me/<bot>?start=<token>`. The first becomes a greeting, the second the account
link `/link_account{"link_code": "<token>"}` (docs/CHANNELS.md, "One customer across channels"). These two
are the channel's own payloads: they reach Rasa as intents, whatever buttons the bot offered.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

START_COMMAND = "/start"
GREETING_PAYLOAD = "/greet"
LINK_INTENT = "link_account"
LINK_ENTITY = "link_code"
# A deep link's parameter as Telegram allows it: 1-64 characters of A-Z, a-z, 0-9, _ and -.
_DEEP_LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# `/start`, `/start@SomeBot` (how a command is addressed in a group), each maybe followed by its parameter.
_START = re.compile(r"/start(?:@(?P<bot>[A-Za-z0-9_]+))?(?:\s+(?P<parameter>.*))?", re.DOTALL)


@dataclass(frozen=True)
class IncomingMessage:
    """One message of a Telegram conversation, as the channel hands it to Rasa."""

    update_id: int
    # The conversation: the chat's id (a private chat's id is the user's).
    chat_id: str
    # Who wrote it: the Telegram user's id.
    user_id: str
    text: str
    # True for the channel's own payloads (`/start`), which reach Rasa as intents whatever was offered.
    from_channel: bool = False
    # The id Telegram needs to stop a pressed button's spinner (answerCallbackQuery), for a button press.
    callback_query_id: str | None = None


def update_id_of(update: Any) -> int | None:
    """The update's id, None when the body is not an update."""
    if isinstance(update, dict) and isinstance(update.get("update_id"), int):
        return int(update["update_id"])
    return None


def incoming_message(update: dict[str, Any], bot_username: str) -> IncomingMessage | None:
    """The message `update` carries for the assistant, None when it carries none (ignored)."""
    update_id = update_id_of(update)
    if update_id is None:
        return None
    query = update.get("callback_query")
    if isinstance(query, dict):
        return _button_press(update_id, query)
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    chat_id, user_id = _id_of(message.get("chat")), _id_of(message.get("from"))
    if chat_id is None or user_id is None:
        return None
    text = message.get("text")
    if not isinstance(text, str):
        return IncomingMessage(update_id, chat_id, user_id, "")
    command = start_command_payload(text, bot_username)
    if command is not None:
        return IncomingMessage(update_id, chat_id, user_id, command, from_channel=True)
    return IncomingMessage(update_id, chat_id, user_id, text)


def start_command_payload(text: str, bot_username: str) -> str | None:
    """The payload a `/start` command becomes (greeting, or account link), None for any other text.

    A `/start@OtherBot` is not for this bot; a parameter that is not a deep-link token makes a greeting (only
    a well-formed token is put into the payload, by json.dumps, so no text can change its shape)."""
    match = _START.fullmatch(text.strip())
    if match is None:
        return None
    addressed_to = match.group("bot")
    if addressed_to is not None and addressed_to.lower() != bot_username.lower():
        return None
    parameter = (match.group("parameter") or "").strip()
    if _DEEP_LINK_TOKEN.fullmatch(parameter):
        return f"/{LINK_INTENT}{json.dumps({LINK_ENTITY: parameter})}"
    return GREETING_PAYLOAD


def _button_press(update_id: int, query: dict[str, Any]) -> IncomingMessage | None:
    message = query.get("message")
    chat_id = _id_of(message.get("chat")) if isinstance(message, dict) else None
    user_id = _id_of(query.get("from"))
    query_id = query.get("id")
    if chat_id is None or user_id is None or not isinstance(query_id, str):
        return None
    data = query.get("data")
    # A button of ours always has data (the payload); anything else becomes no text, answered politely.
    text = data if isinstance(data, str) else ""
    return IncomingMessage(update_id, chat_id, user_id, text, callback_query_id=query_id)


def _id_of(value: Any) -> str | None:
    """The `id` of a Telegram Chat or User object, as text (Rasa's sender ids are text)."""
    if isinstance(value, dict) and isinstance(value.get("id"), int) and not isinstance(value["id"], bool):
        return str(value["id"])
    return None
