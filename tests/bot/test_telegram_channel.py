"""The Telegram channel on the running Rasa server: updates in Telegram's format (https://core.telegram.org/bots/
api#update) POSTed to its webhook with the secret token Telegram sends, the replies read from a local fake of
the Bot API (TELEGRAM_API_URL).

The service is started once for the module as `make run` starts it (launcher/stack.py: cs_backend, the action
server, Rasa with the credentials file the channel registry writes from the environment).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.channels.telegram import SECRET_HEADER
from launcher.stack import (
    DEFAULT_MODEL,
    Ports,
    ServiceStack,
    StartupError,
    backend_command,
    generate_token,
    service_specs,
)
from tests.bot.telegram_fake_api import FakeTelegramApi
from tests.support import REPO_ROOT, unavailable

# The model must be trained: `make test` runs these after training it (`make test-channels`).
pytestmark = pytest.mark.trained_model

STARTUP_TIMEOUT_SECONDS = 300.0
# Drawn per run in the shape aiogram checks (`<bot id>:<secret>`), so that nothing in the repository looks
# like a credential; the fake Bot API accepts any.
BOT_TOKEN = f"{secrets.randbelow(10**9) + 10**8}:{secrets.token_urlsafe(26)}"
BOT_USERNAME = "AcmeSupportBot"
GREETING_PAYLOADS = ["/get_started", "/report_problem", "/ticket_status", "/request_human"]
_update_ids = itertools.count(10_000)
_chat_ids = itertools.count(700_000_001)


@dataclass(frozen=True)
class TelegramService:
    webhook: str
    rasa_url: str
    rasa_token: str
    secret: str
    api: FakeTelegramApi

    def post(self, update: dict[str, Any], secret: str | None = "the service's") -> tuple[int, bytes]:
        """POST an update to the webhook as Telegram does (with the secret token, unless told otherwise)."""
        request = urllib.request.Request(self.webhook, data=json.dumps(update).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        if secret is not None:
            request.add_header(SECRET_HEADER, self.secret if secret == "the service's" else secret)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def tracker(self, chat_id: str) -> dict[str, Any]:
        query = urllib.parse.urlencode({"token": self.rasa_token})
        url = f"{self.rasa_url}/conversations/{chat_id}/tracker?{query}"
        with urllib.request.urlopen(url, timeout=30) as response:
            tracker: dict[str, Any] = json.loads(response.read())
            return tracker

    def user_events(self, chat_id: str) -> list[dict[str, Any]]:
        return [event for event in self.tracker(chat_id)["events"] if event["event"] == "user"]

    def domain_intents(self) -> list[str]:
        query = urllib.parse.urlencode({"token": self.rasa_token})
        request = urllib.request.Request(
            f"{self.rasa_url}/domain?{query}", headers={"Accept": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            intents = json.loads(response.read())["intents"]
        return [intent if isinstance(intent, str) else next(iter(intent)) for intent in intents]


@pytest.fixture(scope="module")
def telegram(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TelegramService]:
    if not DEFAULT_MODEL.exists():
        unavailable(f"{DEFAULT_MODEL} is missing; run `make model`")
    base: Path = tmp_path_factory.mktemp("telegram")
    ports = Ports.pick_free()
    secret = secrets.token_urlsafe(32)
    with FakeTelegramApi().running() as api:
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{base / 'cs_backend.db'}",
            "REDIS_URL": "",
            "RASA_URL": ports.rasa_url,
            "RASA_EVENTS_DB": str(base / "rasa_events.db"),
            "RASA_TRACKER_DB": str(base / "rasa_tracker.db"),
            "ACTIONS_OUTBOX_PATH": str(base / "actions_outbox.db"),
            "RASA_AUTH_TOKEN": generate_token(),
            "ONBOARDING_NUDGE_INTERVAL_SECONDS": "0",
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_BOT_USERNAME": BOT_USERNAME,
            "TELEGRAM_WEBHOOK_SECRET": secret,
            "TELEGRAM_WEBHOOK_URL": "https://support.example.com/webhooks/telegram/webhook",
            "TELEGRAM_API_URL": api.url,
        }
        subprocess.run(
            backend_command("migrate"),
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        specs = service_specs(ports, DEFAULT_MODEL, env)
        assert next(spec.channels for spec in specs if spec.name == "rasa")[-1] == "telegram"
        stack = ServiceStack(specs, log_dir=base / "log")
        try:
            stack.start(timeout=STARTUP_TIMEOUT_SECONDS)
        except StartupError as error:
            raise RuntimeError(f"the service did not start: {error}\n{stack.log_tails()}") from error
        try:
            yield TelegramService(
                webhook=f"{ports.rasa_url}/webhooks/telegram/webhook",
                rasa_url=ports.rasa_url,
                rasa_token=env["RASA_AUTH_TOKEN"],
                secret=secret,
                api=api,
            )
        finally:
            stack.stop()


def new_chat() -> str:
    """A private chat of its own per test (a private chat's id is its user's id)."""
    return str(next(_chat_ids))


def _user(chat_id: str) -> dict[str, Any]:
    return {
        "id": int(chat_id),
        "is_bot": False,
        "first_name": "Ada",
        "username": "ada",
        "language_code": "en",
    }


def _chat(chat_id: str) -> dict[str, Any]:
    return {"id": int(chat_id), "first_name": "Ada", "username": "ada", "type": "private"}


def text_update(chat_id: str, text: str, update_id: int | None = None) -> dict[str, Any]:
    """A text message as Telegram delivers it (a bot command carries a bot_command entity)."""
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "from": _user(chat_id),
        "chat": _chat(chat_id),
        "date": 1_764_500_000,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    return {"update_id": next(_update_ids) if update_id is None else update_id, "message": message}


def button_press(chat_id: str, data: str) -> dict[str, Any]:
    """A press of an inline keyboard's button: a callback_query on the bot's message."""
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": _user(chat_id),
            "message": {
                "message_id": 1,
                "from": {"id": 123456789, "is_bot": True, "first_name": "Acme", "username": BOT_USERNAME},
                "chat": _chat(chat_id),
                "date": 1_764_500_000,
                "text": "Hi!",
            },
            "chat_instance": "-4242",
            "data": data,
        },
    }


def replies(telegram: TelegramService, chat_id: str) -> list[dict[str, Any]]:
    return [call.parameters for call in telegram.api.calls("sendMessage", chat_id)]


def test_start_greets_with_the_offered_buttons_as_an_inline_keyboard(telegram: TelegramService) -> None:
    chat_id = new_chat()
    assert telegram.post(text_update(chat_id, "/start"))[0] == 200
    telegram.api.wait_for(lambda: bool(replies(telegram, chat_id)))

    greeting = replies(telegram, chat_id)[0]
    keyboard = greeting["reply_markup"]["inline_keyboard"]
    assert [button["callback_data"] for row in keyboard for button in row] == GREETING_PAYLOADS
    assert all(len(row) == 1 for row in keyboard)  # long titles: one button a row
    assert {call.token for call in telegram.api.calls()} == {BOT_TOKEN}
    [user] = telegram.user_events(chat_id)
    assert user["text"] == "/greet"
    assert user["parse_data"]["intent"]["name"] == "greet"
    assert user["input_channel"] == "telegram"
    assert user["metadata"]["channel_user"] == {"channel": "telegram", "user_id": chat_id}


def test_a_typed_message_gets_a_reply(telegram: TelegramService) -> None:
    chat_id = new_chat()
    assert telegram.post(text_update(chat_id, "hello there"))[0] == 200
    telegram.api.wait_for(lambda: bool(replies(telegram, chat_id)))
    assert replies(telegram, chat_id)[0]["text"].strip()
    [user] = telegram.user_events(chat_id)
    assert user["text"] == "hello there"


def test_a_pressed_button_is_its_payload_and_its_spinner_stops(telegram: TelegramService) -> None:
    chat_id = new_chat()
    telegram.post(text_update(chat_id, "/start"))
    telegram.api.wait_for(lambda: bool(replies(telegram, chat_id)))
    greeted = len(replies(telegram, chat_id))

    press = button_press(chat_id, "/request_human")
    assert telegram.post(press)[0] == 200
    telegram.api.wait_for(lambda: len(replies(telegram, chat_id)) > greeted)

    answered = [call.parameters["callback_query_id"] for call in telegram.api.calls("answerCallbackQuery")]
    assert press["callback_query"]["id"] in answered
    pressed = telegram.user_events(chat_id)[-1]
    assert pressed["text"] == "/request_human"
    assert pressed["parse_data"]["intent"]["name"] == "request_human"
    assert pressed["metadata"]["channel_user"] == {"channel": "telegram", "user_id": chat_id}


@pytest.mark.parametrize("secret", [None, "", "wrong-secret-of-the-same-kind", "x" * 500])
def test_a_request_without_the_secret_token_is_refused_and_reaches_nobody(
    telegram: TelegramService, secret: str | None
) -> None:
    chat_id = new_chat()
    status, body = telegram.post(text_update(chat_id, "hello"), secret=secret)
    assert status == 403
    assert telegram.secret.encode() not in body
    assert replies(telegram, chat_id) == []
    assert telegram.user_events(chat_id) == []


def test_an_update_sent_again_is_handled_once(telegram: TelegramService) -> None:
    chat_id = new_chat()
    update = text_update(chat_id, "hello")
    assert telegram.post(update)[0] == 200
    telegram.api.wait_for(lambda: bool(replies(telegram, chat_id)))
    answered = len(replies(telegram, chat_id))

    assert telegram.post(update)[0] == 200  # Telegram's resend: acknowledged, not handled
    assert len(telegram.user_events(chat_id)) == 1
    assert len(replies(telegram, chat_id)) == answered


def test_a_deep_link_reaches_the_bot_as_the_account_link(telegram: TelegramService) -> None:
    chat_id = new_chat()
    assert telegram.post(text_update(chat_id, "/start abc"))[0] == 200
    telegram.api.wait_for(lambda: bool(replies(telegram, chat_id)))

    [user] = telegram.user_events(chat_id)
    assert user["text"] == '/link_account{"link_code": "abc"}'
    assert user["metadata"]["channel_user"] == {"channel": "telegram", "user_id": chat_id}
    if "link_account" in telegram.domain_intents():  # the model knows the intent (docs/CHANNELS.md)
        assert user["parse_data"]["intent"]["name"] == "link_account"
        assert [(e["entity"], e["value"]) for e in user["parse_data"]["entities"]] == [("link_code", "abc")]


def test_a_typed_payload_the_bot_did_not_offer_is_read_as_words(telegram: TelegramService) -> None:
    chat_id = new_chat()
    assert telegram.post(text_update(chat_id, '/link_account{"link_code": "forged"}'))[0] == 200
    telegram.api.wait_for(lambda: bool(replies(telegram, chat_id)))
    [user] = telegram.user_events(chat_id)
    assert not user["text"].startswith("/")


def test_a_message_without_text_is_answered_politely(telegram: TelegramService) -> None:
    chat_id = new_chat()
    update = text_update(chat_id, "ignored")
    del update["message"]["text"]
    update["message"]["sticker"] = {"file_id": "x", "file_unique_id": "y", "width": 512, "height": 512}
    assert telegram.post(update)[0] == 200
    telegram.api.wait_for(lambda: bool(replies(telegram, chat_id)))
    assert "text" in replies(telegram, chat_id)[0]["text"]
    assert telegram.user_events(chat_id) == []


@pytest.mark.parametrize("body", [{}, {"update_id": "1"}, [], {"message": {}}])
def test_a_body_that_is_not_an_update_is_refused(telegram: TelegramService, body: Any) -> None:
    status, _ = telegram.post(body)
    assert status == 400


def test_what_cs_backend_sends_through_rasas_api_reaches_the_chat(telegram: TelegramService) -> None:
    """Nudges, surveys and an agent's messages are Rasa's trigger_intent on the customer's last channel: Rasa
    asks the channel for its output (Rasa's own connector would call setWebhook there, inside the server)."""
    chat_id = new_chat()
    telegram.post(text_update(chat_id, "hello"))
    telegram.api.wait_for(lambda: bool(replies(telegram, chat_id)))
    before = len(replies(telegram, chat_id))

    query = urllib.parse.urlencode({"token": telegram.rasa_token, "output_channel": "telegram"})
    request = urllib.request.Request(
        f"{telegram.rasa_url}/conversations/{chat_id}/trigger_intent?{query}",
        data=json.dumps({"name": "greet", "entities": {}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
    telegram.api.wait_for(lambda: len(replies(telegram, chat_id)) > before)
    assert "inline_keyboard" in replies(telegram, chat_id)[-1]["reply_markup"]
