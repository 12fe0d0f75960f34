"""The Telegram channel: Rasa's Telegram connector with the webhook's secret token checked, inline keyboards,
each update handled once, Telegram's `/start` understood, and no call to Telegram at startup.

What Rasa 3.6's connector (rasa.core.channels.telegram) lacks, and this one adds:
- The webhook proves it is Telegram's: Telegram sends the `secret_token` given to setWebhook in the header
  `X-Telegram-Bot-Api-Secret-Token`; a request without it or with another value gets 403 and reaches nobody.
  (Rasa's connector asks Telegram for the bot's username on every update instead, which anyone can pass.)
- Nothing calls Telegram when Rasa starts: Rasa's connector registers the webhook (setWebhook) while loading,
  so a Rasa without Internet access, or a bot token shared with a test, fails or re-points the bot. The
  webhook is registered once, by hand (docs/CHANNELS.md, "Telegram").
- The API's base URL is TELEGRAM_API_URL (default https://api.telegram.org): a self-hosted Bot API server, a
  proxy, or the tests' fake.
- Telegram sends an update again when it did not get our 200 in time; an update_id already handled is
  acknowledged and dropped (message_ids.py).
- Buttons are an inline keyboard; a press (`callback_query`) is the button's payload, and its spinner is
  stopped (answerCallbackQuery).
- `/start` is a greeting, `/start <token>` (a deep link from the website) the account link
  (telegram_updates.py).
- Every message is checked first (guard.py): untrusted, so a typed `/…` payload reaches Rasa only as a button
  the bot has just offered; the `/start` payloads are the channel's own.
- The message metadata names the Telegram user (`channel_user`); the sender id is the chat's id.

Registered in the credentials file the launcher writes (registry.py) as
`bot.channels.telegram.TelegramChannel` when `credentials_from_env` finds it configured; its name stays
Rasa's, "telegram" (URL /webhooks/telegram/webhook).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from aiogram import Bot
from aiogram.bot.api import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import MessageGuard, MessageHandler, agent_of
from bot.channels.message_ids import SeenMessageIds
from bot.channels.message_text import max_chars_from
from bot.channels.telegram_updates import IncomingMessage, incoming_message, update_id_of

logger = logging.getLogger(__name__)

CHANNEL_NAME = "telegram"
TOKEN_VARIABLE = "TELEGRAM_BOT_TOKEN"
USERNAME_VARIABLE = "TELEGRAM_BOT_USERNAME"
WEBHOOK_URL_VARIABLE = "TELEGRAM_WEBHOOK_URL"
SECRET_VARIABLE = "TELEGRAM_WEBHOOK_SECRET"
API_URL_VARIABLE = "TELEGRAM_API_URL"
DEFAULT_API_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram takes 1-256 of these characters as secret_token; fewer than 16 would be guessable.
MIN_SECRET_CHARS = 16
_SECRET = re.compile(f"[A-Za-z0-9_-]{{{MIN_SECRET_CHARS},256}}")
# Telegram refuses a button whose callback_data is longer (in UTF-8 bytes).
MAX_CALLBACK_DATA_BYTES = 64
# A longer payload travels as this prefix and a digest, resolved from `LongPayloads` when pressed.
_LONG_PAYLOAD_PREFIX = "#p:"
# Titles this short (ratings 1-5, 1-7) share a row; longer ones get a row each, so none is cut off.
SHORT_TITLE_CHARS = 4
# Telegram's apps show up to 8 buttons side by side.
MAX_ROW_BUTTONS = 8


def credentials_from_env(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The parameters of this channel's credentials entry, None when the bot's token, username or webhook
    secret is missing (the channel is off); ValueError when the secret is not one Telegram takes.

    The token and the secret are written as `${VARIABLE}`, which Rasa reads from its environment when it loads
    the file: a secret never lands in a file (as in credentials.yml)."""
    if not all(env.get(name, "").strip() for name in (TOKEN_VARIABLE, USERNAME_VARIABLE, SECRET_VARIABLE)):
        return None
    if not _SECRET.fullmatch(env[SECRET_VARIABLE]):
        raise ValueError(
            f"{SECRET_VARIABLE} must be {MIN_SECRET_CHARS}-256 characters of A-Z, a-z, 0-9, _ and - "
            "(what Telegram accepts as a webhook's secret_token)"
        )
    return {
        "access_token": f"${{{TOKEN_VARIABLE}}}",
        "verify": env[USERNAME_VARIABLE].strip().lstrip("@"),
        "webhook_url": env.get(WEBHOOK_URL_VARIABLE, "").strip(),
        "secret_token": f"${{{SECRET_VARIABLE}}}",
        "api_url": env.get(API_URL_VARIABLE, "").strip() or DEFAULT_API_URL,
    }


class LongPayloads:
    """Button payloads longer than Telegram's callback_data allows, by the digest their button carries (the
    latest `capacity`; a press of a forgotten one is no text, answered politely)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def callback_data(self, payload: str) -> str:
        if len(payload.encode()) <= MAX_CALLBACK_DATA_BYTES:
            return payload
        key = _LONG_PAYLOAD_PREFIX + hashlib.sha256(payload.encode()).hexdigest()[:32]
        self._payloads[key] = payload
        self._payloads.move_to_end(key)
        if len(self._payloads) > self.capacity:
            self._payloads.popitem(last=False)
        return key

    def payload(self, callback_data: str) -> str:
        if not callback_data.startswith(_LONG_PAYLOAD_PREFIX):
            return callback_data
        return self._payloads.get(callback_data, "")


class TelegramReplies(TelegramOutput):
    """Rasa's Telegram output on the configured Bot API server, with buttons as an inline keyboard."""

    def __init__(self, access_token: str, api_url: str, long_payloads: LongPayloads) -> None:
        # Not TelegramOutput.__init__, which fixes the server to api.telegram.org.
        Bot.__init__(self, access_token, server=TelegramAPIServer.from_base(api_url))
        self.long_payloads = long_payloads

    async def send_text_with_buttons(
        self,
        recipient_id: str,
        text: str,
        buttons: list[dict[str, Any]],
        button_type: str | None = "inline",
        **kwargs: Any,
    ) -> None:
        keyboard = InlineKeyboardMarkup(
            row_width=min(len(buttons), MAX_ROW_BUTTONS) if _all_short(buttons) else 1
        )
        keyboard.add(
            *(
                InlineKeyboardButton(str(button["title"]), callback_data=self._callback_data(button))
                for button in buttons
            )
        )
        await self.send_message(recipient_id, text, reply_markup=keyboard)

    def _callback_data(self, button: dict[str, Any]) -> str:
        return self.long_payloads.callback_data(str(button["payload"]))


def _all_short(buttons: list[dict[str, Any]]) -> bool:
    return all(len(str(button["title"])) <= SHORT_TITLE_CHARS for button in buttons)


class TelegramChannel(TelegramInput):
    """Rasa's Telegram input channel behind a secret-token check, a `MessageGuard` and an update_id filter."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramChannel:
        if not credentials:
            raise ValueError(f"the {CHANNEL_NAME} channel needs credentials (see credentials_from_env)")
        return cls(
            access_token=_required(credentials, "access_token"),
            verify=_required(credentials, "verify"),
            webhook_url=credentials.get("webhook_url") or None,
            secret_token=_required(credentials, "secret_token"),
            api_url=credentials.get("api_url") or DEFAULT_API_URL,
        )

    def __init__(
        self, access_token: str, verify: str, webhook_url: str | None, secret_token: str, api_url: str
    ) -> None:
        super().__init__(access_token, verify, webhook_url, debug_mode=False)
        self.secret_token = secret_token.encode()
        self.api_url = api_url
        self.guard = MessageGuard(max_chars=max_chars_from(os.environ), trusted=False)
        # The channel's own payloads (`/start`): trusted, but counted in the same rate limit.
        self.own_payloads_guard = MessageGuard(
            max_chars=self.guard.max_chars, trusted=True, rate_limit=self.guard.rate_limit
        )
        self.seen_updates = SeenMessageIds()
        self.long_payloads = LongPayloads()
        # One output (one HTTP session to the Bot API) for every reply.
        self.replies = TelegramReplies(access_token, api_url, self.long_payloads)

    def get_output_channel(self) -> TelegramReplies:
        # Rasa's calls setWebhook here, at every start; this one calls nothing (docs/CHANNELS.md: setWebhook).
        return self.replies

    def from_telegram(self, presented: str | None) -> bool:
        """Whether a request carries the webhook's secret token (compared in constant time)."""
        return presented is not None and hmac.compare_digest(presented.encode(), self.secret_token)

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        telegram_webhook = Blueprint("telegram_webhook", __name__)
        # The lambdas read `telegram_webhook` when a message arrives: by then Rasa has registered it.
        customer_text = self.guard.wrap(on_new_message, lambda: agent_of(telegram_webhook))
        own_payloads = self.own_payloads_guard.wrap(on_new_message, lambda: agent_of(telegram_webhook))

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            presented = request.headers.get(SECRET_HEADER)
            if not self.from_telegram(presented):
                logger.warning(
                    "Telegram webhook request refused: %s secret token",
                    "no" if presented is None else "a wrong",
                )
                return response.json({"error": {"status": 403, "message": "not from Telegram"}}, status=403)
            try:
                update = request.json
            except InvalidUsage:
                update = None
            update_id = update_id_of(update)
            if update_id is None:
                error = {"status": 400, "message": "not a Telegram update"}
                return response.json({"error": error}, status=400)
            if not self.seen_updates.first_time(CHANNEL_NAME, str(update_id)):
                logger.info("Telegram update %s is a resend: dropped", update_id)
                return response.text("")
            message = incoming_message(update, self.verify or "")
            if message is None:
                return response.text("")
            if message.callback_query_id is not None:
                await self._stop_spinner(message.callback_query_id)
            handler = own_payloads if message.from_channel else customer_text
            try:
                await handler(self._user_message(message))
            except Exception:  # answered 200 all the same: Telegram would resend it for hours
                logger.exception("Telegram update %s could not be handled", update_id)
            return response.text("")

        return telegram_webhook

    def _user_message(self, message: IncomingMessage) -> UserMessage:
        text = self.long_payloads.payload(message.text) if message.callback_query_id else message.text
        return UserMessage(
            text,
            self.replies,
            message.chat_id,
            input_channel=CHANNEL_NAME,
            metadata={"channel_user": {"channel": CHANNEL_NAME, "user_id": message.user_id}},
        )

    async def _stop_spinner(self, callback_query_id: str) -> None:
        """answerCallbackQuery: Telegram shows a pressed button as loading until it is answered."""
        try:
            await self.replies.answer_callback_query(callback_query_id)
        except Exception as error:  # a spinner left turning is no reason to drop the press
            logger.warning("answerCallbackQuery failed: %s", type(error).__name__)


def _required(credentials: Mapping[str, Any], key: str) -> str:
    value = credentials.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"the telegram channel's credentials need {key!r}")
    return value.strip()
