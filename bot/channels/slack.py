"""The Slack channel: Rasa's Slack connector (Events API and interactivity on one URL) with every request's
Slack signature checked first, replies in threads, Slack's retries handled once, and every message checked
like the widget's (guard.py).

- Verification (slack_signatures.py): a request without a valid `X-Slack-Signature` under the signing secret,
  or whose `X-Slack-Request-Timestamp` is more than five minutes off, is refused with 401 before Rasa's
  handler parses it; the log says why (missing header, stale timestamp, bad signature) and from where, never
  the signature. Rasa's own check would answer 400 and log nothing.
- Threads: the bot answers in the thread of the customer's message (a new thread on a top-level message, the
  same thread inside one); an answer to a button click goes to the thread of the message with the button.
- Retries: Slack sends an event again (`X-Slack-Retry-Num`) when it got no 200 within 3 seconds. A message is
  known by its Slack conversation and timestamp (`channel`, `ts`), which a retry repeats and which the
  `message` and `app_mention` events of one message share; the latest 20,000 are remembered in this process
  (message_ids.py) and one already handled is answered 200 with `X-Slack-No-Retry: 1` and not handled again.
- Untrusted, like the widget: a typed `/…` payload reaches Rasa only when it is a button the bot has just
  offered; a button click sends that button's payload. Messages Slack marks with a subtype (edited, deleted,
  joins, the bot's own) are not customer messages and are skipped.
- Identity: the sender id is the Slack user id (one conversation per person, whichever Slack conversation they
  write in); the message metadata carries `{"channel_user": {"channel": "slack", "user_id": <user id>}}`.

Registered in the credentials file as `bot.channels.slack.SlackChannel`; its name stays Rasa's ("slack", the
channel stored with tickets and feedback) and so does its URL: /webhooks/slack/webhook. `credentials_from_env`
builds its parameters from the environment (docs/CHANNELS.md, "Slack").
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from rasa.core.channels.channel import InputChannel, OutputChannel
from rasa.core.channels.slack import SlackInput
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import MessageGuard, MessageHandler, agent_of
from bot.channels.message_ids import SeenMessageIds
from bot.channels.message_text import max_chars_from
from bot.channels.slack_replies import DEFAULT_API_URL, SlackReplies
from bot.channels.slack_signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "SLACK_BOT_TOKEN"
SIGNING_SECRET_VARIABLE = "SLACK_SIGNING_SECRET"
API_URL_VARIABLE = "SLACK_API_URL"
CHANNEL_VARIABLE = "SLACK_CHANNEL"
PROXY_VARIABLE = "SLACK_PROXY"
# Where a request's verified signature is noted for Rasa's handler (which checks it again otherwise).
_VERIFIED = "slack_signature_verified"
# Messages with these subtypes are a customer writing (a file with a comment, a thread reply also sent to
# the channel); every other subtype is an edit, a deletion, a join, a bot's message...
_CUSTOMER_SUBTYPES = frozenset({"file_share", "thread_broadcast"})


class SlackConfigurationError(InvalidConfigException):
    """A Slack variable has a value the channel cannot use."""


def credentials_from_env(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The parameters of the channel's credentials entry, or None when Slack is not configured (off);
    SlackConfigurationError (a ValueError) when SLACK_API_URL is not an http(s) URL.

    SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are both needed; SLACK_API_URL (default https://slack.com/api),
    SLACK_CHANNEL (a channel where the bot reads every message, not only mentions) and SLACK_PROXY are
    optional.
    """
    token = env.get(TOKEN_VARIABLE, "").strip()
    secret = env.get(SIGNING_SECRET_VARIABLE, "").strip()
    if not (token and secret):
        if token or secret:
            missing = SIGNING_SECRET_VARIABLE if token else TOKEN_VARIABLE
            logger.warning("Slack channel off: %s is set but %s is not", _other(missing), missing)
        return None
    api_url = env.get(API_URL_VARIABLE, "").strip() or DEFAULT_API_URL
    address = urlsplit(api_url)
    if address.scheme not in ("http", "https") or not address.netloc:
        raise SlackConfigurationError(f"{API_URL_VARIABLE} must be an http(s) URL, got {api_url!r}")
    # The secrets as `${VARIABLE}`, which Rasa reads from its environment when it loads the credentials file:
    # their values never land in a file (as in credentials.yml).
    credentials: dict[str, Any] = {
        "slack_token": f"${{{TOKEN_VARIABLE}}}",
        "slack_signing_secret": f"${{{SIGNING_SECRET_VARIABLE}}}",
        "api_url": api_url,
    }
    for variable, parameter in ((CHANNEL_VARIABLE, "slack_channel"), (PROXY_VARIABLE, "proxy")):
        if value := env.get(variable, "").strip():
            credentials[parameter] = value
    return credentials


def _other(variable: str) -> str:
    return TOKEN_VARIABLE if variable == SIGNING_SECRET_VARIABLE else SIGNING_SECRET_VARIABLE


class SlackChannel(SlackInput):
    """Rasa's Slack input channel with signatures checked, threaded replies, retries handled once and a
    `MessageGuard`."""

    def __init__(
        self,
        slack_token: str,
        slack_signing_secret: str,
        slack_channel: str | None = None,
        proxy: str | None = None,
        api_url: str = DEFAULT_API_URL,
    ) -> None:
        if not slack_token:
            raise InvalidConfigException("the Slack channel needs `slack_token` (SLACK_BOT_TOKEN)")
        # Conversations per sender: the sender id is the Slack user id (the channels' shared contract).
        super().__init__(
            slack_token,
            slack_channel,
            proxy,
            slack_retry_reason_header="X-Slack-Retry-Reason",
            slack_retry_number_header="X-Slack-Retry-Num",
            use_threads=True,
            slack_signing_secret=slack_signing_secret,
            conversation_granularity="sender",
        )
        self.api_url = api_url
        self.guard = MessageGuard(max_chars=max_chars_from(os.environ), trusted=False)
        self.seen_messages = SeenMessageIds()

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        assert credentials is not None  # raise_missing_credentials_exception raised otherwise
        return cls(
            credentials.get("slack_token") or "",
            credentials.get("slack_signing_secret") or "",
            credentials.get("slack_channel"),
            credentials.get("proxy"),
            credentials.get("api_url") or DEFAULT_API_URL,
        )

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        # The lambda reads `blueprint` when a message arrives: by then Rasa has registered it on its app.
        blueprint = super().blueprint(self.guard.wrap(on_new_message, lambda: agent_of(blueprint)))

        @blueprint.middleware("request")
        async def refuse_unsigned_requests(request: Request) -> HTTPResponse | None:
            if not request.path.rstrip("/").endswith("/webhook"):
                return None  # the channel's health check (GET /webhooks/slack/) is open
            verdict = verify(
                self.slack_signing_secret,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                request.body,
                now=time.time(),
            )
            if not verdict.accepted:
                logger.warning(
                    "Slack request refused: %s (%s %s from %s)",
                    verdict.reason,
                    request.method,
                    request.path,
                    request.remote_addr or request.ip,
                )
                error = {"status": 401, "message": f"not signed by Slack: {verdict.reason}"}
                return response.json({"error": error}, status=401)
            setattr(request.ctx, _VERIFIED, True)
            return _url_verification_answer(request)

        return blueprint

    def is_request_from_slack_authentic(self, request: Request) -> bool:
        # The middleware above has checked it, and refused the request otherwise.
        return bool(getattr(request.ctx, _VERIFIED, False))

    @staticmethod
    def _is_user_message(slack_event: dict[str, Any]) -> bool:
        event = slack_event.get("event") or {}
        subtype = event.get("subtype")
        return SlackInput._is_user_message(slack_event) and (subtype is None or subtype in _CUSTOMER_SUBTYPES)

    def get_metadata(self, request: Request) -> dict[str, Any]:
        metadata = super().get_metadata(request)
        user_id = _slack_user_id(request)
        if user_id:
            metadata["channel_user"] = {"channel": self.name(), "user_id": user_id}
        return metadata

    async def process_message(
        self,
        request: Request,
        on_new_message: MessageHandler,
        text: str,
        sender_id: str | None,
        metadata: dict[str, Any] | None,
    ) -> Any:
        message_key = _event_message_key(request)
        if message_key is not None and not self.seen_messages.first_time(sender_id or "", message_key):
            logger.info(
                "Slack message %s of %s already handled: retry #%s not handled again",
                message_key,
                sender_id,
                request.headers.get(self.retry_num_header, "-"),
            )
            return response.text("", headers={"X-Slack-No-Retry": "1"})
        return await super().process_message(request, on_new_message, text, sender_id, metadata)

    def get_output_channel(self, channel: str | None = None, thread_id: str | None = None) -> OutputChannel:
        # Without a Slack conversation (a message the bot starts: cs_backend's trigger_intent), the reply goes
        # to the person's direct messages with the app, not to SLACK_CHANNEL where everyone would read it.
        return SlackReplies(self.slack_token, channel, thread_id, self.proxy, self.api_url)


def _content_type(request: Request) -> str | None:
    # Compared as Rasa's handler compares it, so that both read a request the same way.
    content_type: str | None = request.headers.get("content-type")
    return content_type


def _url_verification_answer(request: Request) -> HTTPResponse | None:
    """The answer to Slack's check of a new Request URL ({"type": "url_verification", "challenge": ...}):
    the challenge as Slack documents it, {"challenge": ...} (Rasa's handler answers a bare JSON string)."""
    if _content_type(request) != "application/json":
        return None
    try:
        body = json.loads(request.body)
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("type") == "url_verification":
        return response.json({"challenge": str(body.get("challenge", ""))})
    return None


def _slack_user_id(request: Request) -> str | None:
    """The Slack user who wrote the message (an event) or clicked the button (an interactive payload)."""
    if _content_type(request) == "application/json":
        event = (request.json or {}).get("event") or {}
        user = event.get("user")
    else:
        user = (_interactive_payload(request).get("user") or {}).get("id")
    return user if isinstance(user, str) and user else None


def _interactive_payload(request: Request) -> dict[str, Any]:
    try:
        payload = json.loads(request.form.get("payload", "{}"))
    except (TypeError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _event_message_key(request: Request) -> str | None:
    """`<channel>/<ts>` of the message an Events API request carries, None for an interactive payload (Slack
    does not retry those)."""
    if _content_type(request) != "application/json":
        return None
    event = (request.json or {}).get("event") or {}
    channel, ts = event.get("channel"), event.get("ts")
    if isinstance(channel, str) and isinstance(ts, str):
        return f"{channel}/{ts}"
    return None
