"""bot/channels/slack.py against the running service: Events API and interactive payloads in Slack's
documented format, signed as Slack signs them, sent to the real Rasa server (with the trained model, the
action server and cs_backend, started once for this module as `make run` starts them); the bot's messages
are captured by a local fake of Slack's Web API (fake_slack_api.py) that the channel reaches through
SLACK_API_URL.

The tests of the running service are marked `trained_model`: `make test` runs them (`make test-channels`) once
the model is trained, the others with the action tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
import yaml
from rasa.core.run import create_http_input_channels
from rasa.shared.exceptions import InvalidConfigException

from bot.channels.slack import SlackChannel, SlackConfigurationError, credentials_from_env
from bot.channels.slack_replies import SlackReplies, button_blocks, escaped
from bot.channels.slack_signatures import MAX_AGE_SECONDS, signature, verify
from launcher.stack import (
    BACKEND_PYTHON,
    BOT_VENV,
    DEFAULT_MODEL,
    RASA_TOKEN_VARIABLE,
    Ports,
    ServiceStack,
    StartupError,
    backend_command,
    generate_token,
    service_specs,
)
from tests.bot.fake_slack_api import FakeSlackApi, PostedMessage
from tests.support import REPO_ROOT, unavailable

STARTUP_TIMEOUT_SECONDS = 300.0
# The first message of a conversation runs action_session_start (action server, cs_backend) on 2 busy cores.
REPLY_TIMEOUT_SECONDS = 60.0
# Drawn per run, so that nothing in the repository looks like a credential; the fake Slack API accepts any.
BOT_TOKEN = f"xoxb-test-{secrets.token_hex(12)}"
SIGNING_SECRET = secrets.token_hex(16)
SLACK_SECRETS = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
BOT_USER = "U0BOTUSER1"
TEAM = "T0TESTTEAM"
CHANNEL_CLASS = "bot.channels.slack.SlackChannel"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


# --- Signatures, credentials and blocks, without a server --------------------------------------------------


def test_a_request_signed_as_slack_signs_is_accepted() -> None:
    # Slack's worked example (https://api.slack.com/authentication/verifying-requests-from-slack).
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    # The signing secret of that published example (Slack's documentation, not a credential of anyone's).
    documented_secret = "8f742231b10e8888abcd99yyyzzz85a5"
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert signature(documented_secret, "1531420618", body) == expected
    assert verify(documented_secret, "1531420618", expected, body, now=1531420618 + 10).accepted


@pytest.mark.parametrize(
    ("timestamp", "presented", "reason"),
    [
        (None, "v0=00", "no X-Slack-Request-Timestamp or X-Slack-Signature header"),
        ("1000", None, "no X-Slack-Request-Timestamp or X-Slack-Signature header"),
        ("soon", "v0=00", "X-Slack-Request-Timestamp is not a number of seconds"),
        ("1000", "v0=" + "0" * 64, "bad signature"),
        ("1000", signature("another-secret", "1000", b"{}"), "bad signature"),
        (str(1000 - MAX_AGE_SECONDS - 1), signature(SIGNING_SECRET, "699", b"{}"), "stale timestamp"),
        (str(1000 + MAX_AGE_SECONDS + 1), signature(SIGNING_SECRET, "1301", b"{}"), "stale timestamp"),
    ],
)
def test_unsigned_forged_and_stale_requests_are_refused(
    timestamp: str | None, presented: str | None, reason: str
) -> None:
    verdict = verify(SIGNING_SECRET, timestamp, presented, b"{}", now=1000)
    assert not verdict.accepted
    assert verdict.reason.startswith(reason)


def test_slack_is_off_unless_both_the_token_and_the_signing_secret_are_set() -> None:
    assert credentials_from_env({}) is None
    assert credentials_from_env({"SLACK_BOT_TOKEN": BOT_TOKEN}) is None
    assert credentials_from_env({"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": "  "}) is None
    # The secrets stay in the environment: Rasa expands `${VARIABLE}` when it reads the credentials file.
    assert credentials_from_env({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}) == {
        "slack_token": "${SLACK_BOT_TOKEN}",
        "slack_signing_secret": "${SLACK_SIGNING_SECRET}",
        "api_url": "https://slack.com/api",
    }


def test_the_optional_slack_variables_reach_the_credentials() -> None:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": "https://slack-proxy.internal/api",
        "SLACK_CHANNEL": "C0SUPPORT1",
        "SLACK_PROXY": "http://proxy.internal:3128",
    }
    assert credentials_from_env(env) == {
        "slack_token": "${SLACK_BOT_TOKEN}",
        "slack_signing_secret": "${SLACK_SIGNING_SECRET}",
        "api_url": "https://slack-proxy.internal/api",
        "slack_channel": "C0SUPPORT1",
        "proxy": "http://proxy.internal:3128",
    }
    with pytest.raises(SlackConfigurationError, match="SLACK_API_URL"):
        credentials_from_env({**env, "SLACK_API_URL": "slack.com/api"})


def test_the_credentials_file_registers_the_slack_channel_under_rasas_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file's other channels do not start without their secrets (bot/channels/rest.py, socketio.py).
    monkeypatch.setenv("RASA_REST_TOKEN", generate_token())
    monkeypatch.setenv("WIDGET_SESSION_SECRET", generate_token())
    for name, value in SLACK_SECRETS.items():
        monkeypatch.setenv(name, value)
    channels = create_http_input_channels(
        None, str(slack_credentials_file(tmp_path, "http://127.0.0.1:9/api"))
    )
    (slack,) = [channel for channel in channels if isinstance(channel, SlackChannel)]
    assert slack.name() == "slack"
    assert (slack.slack_token, slack.slack_signing_secret, slack.api_url) == (
        BOT_TOKEN,
        SIGNING_SECRET,
        "http://127.0.0.1:9/api",
    )
    with pytest.raises(InvalidConfigException):
        SlackChannel.from_credentials({"slack_token": BOT_TOKEN})


def test_buttons_beyond_five_are_kept_in_actions_blocks_of_25() -> None:
    buttons = [{"title": str(score), "payload": f'/rate_ces{{"ces": {score}}}'} for score in range(1, 31)]
    blocks = button_blocks("How easy was it?", buttons)
    assert blocks[0] == {"type": "section", "text": {"type": "plain_text", "text": "How easy was it?"}}
    assert [block["type"] for block in blocks[1:]] == ["actions", "actions"]
    values = [element["value"] for block in blocks[1:] for element in block["elements"]]
    assert values == [button["payload"] for button in buttons]
    assert len(blocks[1]["elements"]) == 25


def test_text_is_escaped_so_slack_shows_it_as_written() -> None:
    assert escaped("<!channel> & <@U123> <https://evil.example|bank>") == (
        "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://evil.example|bank&gt;"
    )


async def test_a_message_the_bot_starts_goes_to_the_persons_direct_messages() -> None:
    """cs_backend's trigger_intent (survey, nudge, agent relay) has no Slack conversation: Rasa asks the
    channel for an output channel without one, and the message goes to the user id (the app's DM with
    them)."""
    seven = [{"title": str(score), "payload": f'/rate_ces{{"ces": {score}}}'} for score in range(1, 8)]
    with FakeSlackApi() as slack:
        replies = SlackReplies(BOT_TOKEN, None, None, None, slack.api_url)
        await replies.send_text_with_buttons("U0CUSTOMER", "How easy was it? <!here>", seven)
        await replies.send_text_message("U0CUSTOMER", "Agent: see <https://x.example|this>\n\nBye & thanks")
        posted = slack.posted()
    assert [message.channel for message in posted] == ["U0CUSTOMER"] * 3
    assert all(message.authorization == f"Bearer {BOT_TOKEN}" for message in posted)
    assert all("as_user" not in message.arguments and message.thread_ts is None for message in posted)
    assert [button["value"] for button in posted[0].buttons] == [button["payload"] for button in seven]
    assert posted[0].arguments["text"] == "How easy was it? &lt;!here&gt;"
    assert [message.arguments["text"] for message in posted[1:]] == [
        "Agent: see &lt;https://x.example|this&gt;",
        "Bye &amp; thanks",
    ]


# --- The running service -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackService:
    rasa_url: str
    rasa_token: str
    slack: FakeSlackApi
    rasa_log: Path

    @property
    def webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/slack/webhook"

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        url = f"{self.rasa_url}/conversations/{quote(sender_id)}/tracker?token={quote(self.rasa_token)}"
        async with aiohttp.ClientSession() as session, session.get(url) as answer:
            assert answer.status == 200
            tracker: dict[str, Any] = await answer.json()
            return tracker

    async def user_events(self, sender_id: str) -> list[dict[str, Any]]:
        return [event for event in (await self.tracker(sender_id))["events"] if event["event"] == "user"]

    async def settled(self, sender_id: str) -> None:
        """Wait until the bot's turn after the latest user message is over (its messages are all posted)."""
        deadline = time.monotonic() + REPLY_TIMEOUT_SECONDS
        while True:
            events = (await self.tracker(sender_id))["events"]
            kinds = [(event["event"], event.get("name")) for event in events]
            if (
                ("user", None) in kinds
                and kinds[-1] == ("action", "action_listen")
                and kinds[-2][0] != "user"
            ):
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the bot's turn did not end after {REPLY_TIMEOUT_SECONDS:.0f} s: {kinds}"
                )
            await asyncio.sleep(0.2)

    async def replies(
        self, matching: Callable[[PostedMessage], bool], at_least: int = 1
    ) -> list[PostedMessage]:
        """The posted messages `matching`, once there are `at_least` of them (fails after the timeout)."""
        deadline = time.monotonic() + REPLY_TIMEOUT_SECONDS
        while True:
            found = [message for message in self.slack.posted() if matching(message)]
            if len(found) >= at_least:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no reply after {REPLY_TIMEOUT_SECONDS:.0f} s; posted: {self.slack.posted()}"
                )
            await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def slack_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackService]:
    for needed, how in ((BOT_VENV / "bin" / "rasa", "make envs"), (BACKEND_PYTHON, "make envs")):
        if not needed.exists():
            unavailable(f"{needed} is missing; run `{how}`")
    if not DEFAULT_MODEL.exists():
        unavailable(f"{DEFAULT_MODEL} is missing; run `make model`")
    base = tmp_path_factory.mktemp("slack")
    with FakeSlackApi() as slack:
        ports = Ports.pick_free()
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{base / 'cs_backend.db'}",
            "REDIS_URL": "",
            "RASA_EVENTS_DB": str(base / "rasa_events.db"),
            "RASA_TRACKER_DB": str(base / "rasa_tracker.db"),
            "ACTIONS_OUTBOX_PATH": str(base / "actions_outbox.db"),
            RASA_TOKEN_VARIABLE: generate_token(),
        }
        subprocess.run(backend_command("migrate"), cwd=REPO_ROOT, env={**os.environ, **env}, check=True)
        specs = service_specs(ports, DEFAULT_MODEL, env)
        credentials = slack_credentials_file(base, slack.api_url)
        specs = [with_credentials(spec, credentials) if spec.name == "rasa" else spec for spec in specs]
        stack = ServiceStack(specs, log_dir=base / "log")
        try:
            stack.start(timeout=STARTUP_TIMEOUT_SECONDS)
        except StartupError as error:
            raise RuntimeError(f"the service did not start: {error}\n{stack.log_tails()}") from error
        try:
            yield SlackService(ports.rasa_url, env[RASA_TOKEN_VARIABLE], slack, stack.log_path("rasa"))
        finally:
            stack.stop()


def slack_credentials_file(base: Path, api_url: str) -> Path:
    """credentials.yml's channels plus the Slack channel built from a configured environment."""
    channels = yaml.safe_load((REPO_ROOT / "credentials.yml").read_text())
    slack_env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
    }
    channels[CHANNEL_CLASS] = credentials_from_env(slack_env)
    path = base / "credentials.yml"
    path.write_text(yaml.safe_dump(channels))
    return path


def with_credentials(spec: Any, credentials: Path) -> Any:
    """The Rasa process started with `credentials`, and the Slack secrets the file refers to."""
    argv = list(spec.argv)
    argv[argv.index("--credentials") + 1] = str(credentials)
    return dataclasses.replace(spec, argv=argv, env={**spec.env, **SLACK_SECRETS})


def new_ids() -> tuple[str, str]:
    """A Slack user id and the id of their direct-message conversation with the app, unique to the test."""
    suffix = uuid.uuid4().hex[:10].upper()
    return f"U{suffix}", f"D{suffix}"


def new_ts() -> str:
    """A Slack message timestamp (seconds.microseconds), unique enough within a test run."""
    return f"{time.time():.6f}"


def message_event(user: str, channel: str, text: str, ts: str) -> dict[str, Any]:
    """An Events API `event_callback` carrying a `message.im` event, as Slack sends it."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0TESTAPP1",
        "event": {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": text,
            "user": user,
            "ts": ts,
            "team": TEAM,
            "channel": channel,
            "event_ts": ts,
            "channel_type": "im",
        },
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def button_click(user: str, channel: str, clicked: PostedMessage, button: dict[str, Any]) -> dict[str, Any]:
    """A `block_actions` interactive payload: `user` clicked `button` of the bot's message `clicked`."""
    message_ts = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "customer", "name": "customer", "team_id": TEAM},
        "api_app_id": "A0TESTAPP1",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
            "thread_ts": clicked.thread_ts,
        },
        "trigger_id": "1234567890.123456789.abcdef",
        "team": {"id": TEAM, "domain": "acme"},
        "channel": {"id": channel, "name": "directmessage"},
        "message": {
            "type": "message",
            "user": BOT_USER,
            "bot_id": "B0FAKE",
            "ts": message_ts,
            "thread_ts": clicked.thread_ts,
            "text": clicked.arguments["text"],
            "blocks": clicked.arguments["blocks"],
        },
        "response_url": "https://hooks.slack.com/actions/T0TESTTEAM/1/abc",
        "actions": [
            {
                "action_id": "a1",
                "block_id": "b1",
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def signed(
    body: bytes, content_type: str, timestamp: int | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The headers Slack sends with `body`: its content type, timestamp and signature."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(SIGNING_SECRET, stamp, body),
        **(extra or {}),
    }


async def send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as answer:
        return answer.status, dict(answer.headers), await answer.text()


def encoded(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


@pytest.mark.trained_model
async def test_a_greeting_is_answered_in_its_thread_with_buttons_as_blocks(
    slack_service: SlackService,
) -> None:
    user, channel = new_ids()
    ts = new_ts()
    body = encoded(message_event(user, channel, "hello", ts))
    status, _, _ = await send(slack_service.webhook, body, signed(body, JSON))
    assert status == 200

    replies = await slack_service.replies(lambda message: message.channel == channel)
    assert all(reply.thread_ts == ts for reply in replies)
    assert all(reply.authorization == f"Bearer {BOT_TOKEN}" for reply in replies)
    with_buttons = await slack_service.replies(
        lambda message: message.channel == channel and bool(message.buttons)
    )
    assert "/get_started" in [button["value"] for button in with_buttons[0].buttons]
    assert with_buttons[0].arguments["blocks"][0]["type"] == "section"

    (greeting,) = await slack_service.user_events(user)
    assert greeting["text"] == "hello"
    assert greeting["input_channel"] == "slack"
    assert greeting["metadata"]["channel_user"] == {"channel": "slack", "user_id": user}


@pytest.mark.trained_model
async def test_a_button_click_reaches_the_bot_and_is_answered_in_the_thread(
    slack_service: SlackService,
) -> None:
    user, channel = new_ids()
    ts = new_ts()
    body = encoded(message_event(user, channel, "hi there", ts))
    assert (await send(slack_service.webhook, body, signed(body, JSON)))[0] == 200
    offer = (
        await slack_service.replies(lambda message: message.channel == channel and bool(message.buttons))
    )[0]
    await slack_service.settled(user)
    before = len([message for message in slack_service.slack.posted() if message.channel == channel])

    button = next(button for button in offer.buttons if button["value"] == "/get_started")
    click = urlencode({"payload": json.dumps(button_click(user, channel, offer, button))}).encode()
    assert (await send(slack_service.webhook, click, signed(click, FORM)))[0] == 200

    answers = await slack_service.replies(lambda message: message.channel == channel, at_least=before + 1)
    assert all(answer.thread_ts == ts for answer in answers[before:])
    events = await slack_service.user_events(user)
    assert events[-1]["text"] == "/get_started"
    assert events[-1]["parse_data"]["intent"]["name"] == "get_started"
    assert events[-1]["metadata"]["channel_user"] == {"channel": "slack", "user_id": user}


@pytest.mark.trained_model
async def test_unsigned_forged_stale_and_non_customer_messages_are_never_answered(
    slack_service: SlackService,
) -> None:
    user, channel = new_ids()
    refused: dict[str, dict[str, str]] = {}
    for case in ("no signature", "bad signature", "stale timestamp", "other secret"):
        ts = new_ts()
        body = encoded(message_event(user, channel, f"refused: {case}", ts))
        headers = signed(body, JSON)
        if case == "no signature":
            del headers["X-Slack-Signature"]
        elif case == "bad signature":
            headers["X-Slack-Signature"] = "v0=" + "ab" * 32
        elif case == "stale timestamp":
            headers = signed(body, JSON, timestamp=int(time.time()) - MAX_AGE_SECONDS - 60)
        else:
            stamp = headers["X-Slack-Request-Timestamp"]
            headers["X-Slack-Signature"] = signature("not-the-signing-secret", stamp, body)
        status, _, text = await send(slack_service.webhook, body, headers)
        assert status == 401, case
        assert "not signed by Slack" in text
        refused[ts] = headers

    # Signed but not a customer writing: an edit and the bot's own message are skipped.
    for subtype in ("message_changed", "bot_message"):
        ts = new_ts()
        event = message_event(user, channel, f"skipped: {subtype}", ts)
        event["event"]["subtype"] = subtype
        body = encoded(event)
        assert (await send(slack_service.webhook, body, signed(body, JSON)))[0] == 200
        refused[ts] = {}

    # A signed message of the same person is answered; none of the others ever reached the bot.
    ts = new_ts()
    body = encoded(message_event(user, channel, "hello", ts))
    assert (await send(slack_service.webhook, body, signed(body, JSON)))[0] == 200
    await slack_service.replies(lambda message: message.channel == channel)
    assert [event["text"] for event in await slack_service.user_events(user)] == ["hello"]
    assert not [message for message in slack_service.slack.posted() if message.thread_ts in refused]

    log = slack_service.rasa_log.read_text(errors="replace")
    assert "Slack request refused: bad signature" in log
    assert "Slack request refused: stale timestamp" in log
    assert SIGNING_SECRET not in log
    presented = [
        headers["X-Slack-Signature"] for headers in refused.values() if "X-Slack-Signature" in headers
    ]
    assert presented
    assert not [signature for signature in presented if signature in log]


@pytest.mark.trained_model
async def test_a_retried_event_is_handled_once(slack_service: SlackService) -> None:
    user, channel = new_ids()
    ts = new_ts()
    body = encoded(message_event(user, channel, "hello", ts))
    assert (await send(slack_service.webhook, body, signed(body, JSON)))[0] == 200
    # Slack's retry of the same event (it got no 200 in time): signed anew, same body. `http_error` is not a
    # reason Rasa's own connector ignores.
    retry = signed(body, JSON, extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
    status, headers, _ = await send(slack_service.webhook, body, retry)
    assert status == 200
    assert headers.get("X-Slack-No-Retry") == "1"

    # The next message is answered after the first: had the retry been handled, it would be in between.
    await slack_service.replies(lambda message: message.thread_ts == ts)
    next_ts = new_ts()
    body = encoded(message_event(user, channel, "thanks", next_ts))
    assert (await send(slack_service.webhook, body, signed(body, JSON)))[0] == 200
    await slack_service.replies(lambda message: message.thread_ts == next_ts)
    assert [event["text"] for event in await slack_service.user_events(user)] == ["hello", "thanks"]


@pytest.mark.trained_model
async def test_a_message_the_bot_starts_is_posted_to_the_persons_direct_messages(
    slack_service: SlackService,
) -> None:
    """cs_backend starts messages (surveys, nudges, an agent's words) with Rasa's trigger_intent on the
    conversation's channel: on Slack they go to the person's DM with the app, outside any thread."""
    user, channel = new_ids()
    ts = new_ts()
    body = encoded(message_event(user, channel, "hello", ts))
    assert (await send(slack_service.webhook, body, signed(body, JSON)))[0] == 200
    await slack_service.replies(lambda message: message.thread_ts == ts)

    url = (
        f"{slack_service.rasa_url}/conversations/{user}/trigger_intent"
        f"?output_channel=slack&token={quote(slack_service.rasa_token)}"
    )
    async with aiohttp.ClientSession() as session, session.post(url, json={"name": "greet"}) as answer:
        assert answer.status == 200
    started = await slack_service.replies(lambda message: message.channel == user)
    assert all(message.thread_ts is None and message.buttons for message in started)


@pytest.mark.trained_model
async def test_slacks_request_url_check_is_answered_with_its_challenge(slack_service: SlackService) -> None:
    body = encoded(
        {
            "token": "legacy-verification-token",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    status, _, text = await send(slack_service.webhook, body, signed(body, JSON))
    assert status == 200
    assert json.loads(text) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    unsigned = {"Content-Type": JSON}
    assert (await send(slack_service.webhook, body, unsigned))[0] == 401
