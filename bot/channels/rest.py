"""The REST channel for trusted callers (tests, integrations): Rasa's, with every request and message checked
first.

Locked: every request must carry `Authorization: Bearer <RASA_REST_TOKEN>` (compared in constant time; 401
otherwise, before the body is read), since whoever speaks on this channel speaks as any sender id. The channel
does not start without the token (the launcher sets one, random per run unless given).

Trusted: a typed `/…` payload reaches Rasa as it is, unless it names an external intent; the length limit and
the cleaning apply as on every channel (guard.py). A request body Rasa's handler cannot read (not a JSON
object, a sender or metadata of the wrong type) is refused with a 400 and a JSON error, where Rasa's handler
would fail with a 500. Registered in credentials.yml as `bot.channels.rest.CheckedRestInput`; its name and URL
stay Rasa's (`rest`, /webhooks/rest/webhook).
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Any

from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import MessageGuard, MessageHandler, agent_of
from bot.channels.message_text import clean_text, max_chars_from
from bot.tokens import required_token

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "RASA_REST_TOKEN"
_BEARER_PREFIX = "bearer "

# cs_backend stores a conversation's sender id in at most 200 characters (its SenderId).
MAX_SENDER_CHARS = 200


def body_problems(data: Any) -> dict[str, str]:
    """{field: what is wrong} for a webhook body (parsed JSON) that Rasa's REST handler cannot read.

    `message` is not checked here: one that is not text is answered politely (`_extract_message`)."""
    if not isinstance(data, dict):
        return {"body": "must be a JSON object with sender and message"}
    problems = {}
    sender = data.get("sender")
    # Required: without one, Rasa would put every such message into one conversation ("default").
    if not (
        isinstance(sender, str) and 1 <= len(sender) <= MAX_SENDER_CHARS and clean_text(sender) == sender
    ):
        problems["sender"] = (
            f"must be text of 1-{MAX_SENDER_CHARS} characters, without control characters or outer spaces"
        )
    if data.get("metadata") is not None and not isinstance(data["metadata"], dict):
        problems["metadata"] = "must be a JSON object"
    if data.get("input_channel") is not None and not isinstance(data["input_channel"], str):
        problems["input_channel"] = "must be a string"
    return problems


class CheckedRestInput(RestInput):
    """Rasa's REST input channel behind a trusted `MessageGuard`."""

    def __init__(self) -> None:
        super().__init__()
        self.guard = MessageGuard(max_chars=max_chars_from(os.environ), trusted=True)
        self._token = required_token(TOKEN_VARIABLE).encode()

    def authorized(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries this channel's bearer token."""
        if authorization is None or not authorization.lower().startswith(_BEARER_PREFIX):
            return False
        presented = authorization[len(_BEARER_PREFIX) :].strip().encode()
        return hmac.compare_digest(presented, self._token)

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        # The lambda reads `blueprint` when a message arrives: by then Rasa has registered it on its app.
        blueprint = super().blueprint(self.guard.wrap(on_new_message, lambda: agent_of(blueprint)))

        @blueprint.middleware("request")
        async def refuse_unauthorized_or_unreadable(request: Request) -> HTTPResponse | None:
            if not self.authorized(request.headers.get("Authorization")):
                logger.warning(
                    "REST channel request without its token refused (%s %s)", request.method, request.path
                )
                error = {"status": 401, "message": f"missing or invalid bearer token ({TOKEN_VARIABLE})"}
                return response.json({"error": error}, status=401, headers={"WWW-Authenticate": "Bearer"})
            if request.method != "POST":
                return None
            try:
                # Parsed as Rasa's handler will read it (Sanic keeps the result for the handler).
                problems = body_problems(request.json)
            except InvalidUsage:
                problems = {"body": "the body is not JSON"}
            if not problems:
                return None
            error = {"status": 400, "message": "invalid request body", "fields": problems}
            return response.json({"error": error}, status=400)

        return blueprint

    def _extract_message(self, req: Request) -> Any:
        # Rasa's channel fails on a message that is not a string; it becomes no text (answered politely).
        message = super()._extract_message(req)
        return message if isinstance(message, str) else ""
