"""The client of Rasa's HTTP API (Rasa runs with --enable-api): every call the backend makes to Rasa.

Calls: `trigger_intent` (the onboarding nudges), `tracker` and `empty_tracker` (a customer's export and
deletion, the transcript retention job).

One `RasaClient` per app (app_keys.RASA_CLIENT, opened and closed by main.rasa_client_context) owns its HTTP
session and a timeout per request, so a hung Rasa delays the caller but never blocks it. A call either
succeeds or raises `RasaError`, whose message says what went wrong (Rasa's status and answer, or why it
could not be reached).

Every call carries the API's token (RASA_AUTH_TOKEN) as the `token` query parameter, the only place Rasa
reads it from; no message of this module (a RasaError, hence a log line) contains it.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp
from yarl import URL

# Per request (connect, send, answer).
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=10)
# Characters of Rasa's answer kept in the error of a refused request.
ANSWER_EXCERPT_LENGTH = 300
# Where Rasa reads the token of its HTTP API (rasa.server.requires_auth).
TOKEN_PARAMETER = "token"


class RasaError(Exception):
    """Rasa was unreachable, did not answer in time, or answered with a status other than 2xx."""


def conversation_url(base_url: str, sender_id: str, tail: str) -> URL:
    """{base_url}/conversations/{sender_id}/{tail}, the sender id encoded as one path segment."""
    base = URL(base_url)
    path = f"{base.raw_path.rstrip('/')}/conversations/{quote(sender_id, safe='')}/{tail}"
    return base.with_path(path, encoded=True)


def trigger_intent_url(base_url: str, sender_id: str) -> URL:
    """{base_url}/conversations/{sender_id}/trigger_intent."""
    return conversation_url(base_url, sender_id, "trigger_intent")


class RasaClient:
    """Create it inside a running event loop, and close it (or use `async with`).

    `auth_token` is Rasa's --auth-token; None sends none (a Rasa that requires one answers 401).
    """

    def __init__(
        self, base_url: str, *, auth_token: str | None, timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT
    ) -> None:
        self.base_url = base_url
        self._auth_query = {TOKEN_PARAMETER: auth_token} if auth_token else {}
        self._session = aiohttp.ClientSession(timeout=timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._session.close()

    async def trigger_intent(
        self, sender_id: str, intent: str, entities: dict[str, Any], output_channel: str
    ) -> None:
        """Inject `intent` (with `entities`) into the conversation; Rasa answers on `output_channel`."""
        url = trigger_intent_url(self.base_url, sender_id).with_query(output_channel=output_channel)
        await self._post(url, {"name": intent, "entities": entities})

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        """The conversation's tracker with every event (`include_events=ALL`).

        Rasa 3.6 starts a session (three events, no text) in a conversation it holds no events of.
        """
        url = conversation_url(self.base_url, sender_id, "tracker").with_query(include_events="ALL")
        answer = await self._call("GET", url, None)
        try:
            tracker = json.loads(answer)
        except ValueError:
            raise RasaError("Rasa answered a tracker that is not JSON") from None
        if not isinstance(tracker, dict):
            raise RasaError("Rasa answered a tracker that is not a JSON object")
        return tracker

    async def empty_tracker(self, sender_id: str) -> None:
        """Replace the conversation's events with none (`PUT .../tracker/events`, Rasa 3.6 has no delete).

        The in-memory, Redis and DynamoDB tracker stores then hold an empty tracker under the sender id. The
        SQL and Mongo tracker stores only append a tracker's new events when saving it, so theirs keep the old
        events (docs/SECURITY.md).
        """
        await self._call("PUT", conversation_url(self.base_url, sender_id, "tracker/events"), [])

    async def _post(self, url: URL, body: dict[str, Any]) -> None:
        await self._call("POST", url, body)

    async def _call(self, method: str, url: URL, body: Any) -> bytes:
        try:
            async with self._session.request(
                method, url.update_query(self._auth_query), json=body
            ) as response:
                answer = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            # from None: the original error, whose text may hold the URL with the token, stays out of
            # tracebacks.
            raise RasaError(
                self._without_token(f"no answer from Rasa at {self.base_url}: {error!r}")
            ) from None
        if not 200 <= response.status < 300:
            excerpt = " ".join(answer.decode("utf-8", "replace").split())[:ANSWER_EXCERPT_LENGTH]
            raise RasaError(self._without_token(f"Rasa answered {response.status}: {excerpt}"))
        return answer

    def _without_token(self, message: str) -> str:
        """`message` with the token masked: an error's text may quote the URL that carried it."""
        token = self._auth_query.get(TOKEN_PARAMETER)
        return message.replace(token, "<token>") if token else message
