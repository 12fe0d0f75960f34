"""One console websocket: the live events pushed to the page, and the page's `send` frames answered.

Two tasks share the socket: the pusher forwards the live events this person may see (and a heartbeat frame
when the socket was quiet, so the page notices a dead connection), and the reader answers the page's frames.
Sends are serialised by a lock. The socket closes with 1001 when the live events end (shutdown, or the
connection to Redis was lost: the page reconnects and re-reads the REST resources) and with
SESSION_ENDED_CLOSE_CODE when the person's session expired, was ended or their account disabled (the page
asks them to sign in again).

Frames count against a per-connection rate limit (CONSOLE_FRAME_LIMIT), and a `send` also against the
person's account limit (RATE_LIMIT_ACCOUNT, shared with their HTTP requests): over either, the frame is
answered with a 429 error frame and not processed. A bad frame is answered with an error frame; the socket
stays open. Message texts are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import ValidationError
from sqlalchemy import select

from cs_backend.accounts.models import Account, AccountSession
from cs_backend.api.errors import ApiError, error_fields
from cs_backend.app_keys import (
    CURRENT_ACCOUNT,
    CURRENT_CALLER,
    CURRENT_SESSION,
    DATABASE,
    HANDOFF_MESSAGING,
    RATE_LIMITER,
    RATE_LIMITS,
)
from cs_backend.console.schemas import ReadyPayload, SendFrame
from cs_backend.db import utcnow
from cs_backend.live_events import LiveEvent, Subscription
from cs_backend.ratelimit.limiter import RateLimit
from cs_backend.routing.models import HOLDING_STATES, AgentProfile, HandoffRequest
from cs_backend.routing.schemas import HandoffMessageOut
from cs_backend.routing.service import Actor

log = logging.getLogger(__name__)

# A heartbeat frame after this many quiet seconds; aiohttp also pings the page at this interval and closes
# a socket whose pong does not come.
HEARTBEAT_SECONDS = 15.0
# How often the person's session is checked again (it may expire, be ended, or the account disabled).
SESSION_CHECK_SECONDS = 60.0
# 4000-4999 are the application's own close codes: the page shows the sign-in form instead of reconnecting.
SESSION_ENDED_CLOSE_CODE = 4401
# Frames one socket may send: an agent typing fast sends a few a second at most.
CONSOLE_FRAME_LIMIT = RateLimit.parse("console-frames", "120/minute")


def _handoff_of(event: LiveEvent) -> Mapping[str, Any] | None:
    """The handoff a handoff.* event describes (handoff.sla_breached nests it under "handoff")."""
    payload = event.payload.get("handoff", event.payload)
    if isinstance(payload, Mapping) and {"id", "state", "agent_id"} <= payload.keys():
        return payload
    return None


class ConsoleConnection:
    def __init__(
        self, request: web.Request, socket: web.WebSocketResponse, subscription: Subscription
    ) -> None:
        self.request = request
        self.socket = socket
        self.subscription = subscription
        self.account = request[CURRENT_ACCOUNT]
        self.actor = Actor.of(self.account)
        self._send_lock = asyncio.Lock()
        self._frame_key = f"console-socket:{uuid.uuid4().hex}"
        self._last_sent = time.monotonic()
        self._last_session_check = time.monotonic()
        # The handoffs offered to or held by this agent: only their messages reach an agent's socket (an
        # admin's gets every handoff's). Kept up to date from the handoff.* events that pass by.
        self._held: set[int] = set()

    @property
    def _is_admin(self) -> bool:
        return self.account.role == "admin"

    async def run(self) -> None:
        await self._load_held()
        await self._send_frame({"type": "ready", "payload": await self._ready_payload()})
        pusher = asyncio.create_task(self._push_events(), name="console-socket-pusher")
        try:
            async for message in self.socket:
                if message.type == WSMsgType.TEXT:
                    await self._answer_safely(message.data)
                elif message.type == WSMsgType.BINARY:
                    await self._send_error(None, 400, "frames must be JSON text", {"frame": "binary frame"})
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher

    # --- server to page -----------------------------------------------------------------------------------

    async def _ready_payload(self) -> dict[str, Any]:
        async with self.request.app[DATABASE].sessions() as session:
            profile = await session.get(AgentProfile, self.account.id)
        ready = ReadyPayload(
            account_id=self.account.id,
            role=self.account.role,
            display_name=self.account.display_name,
            status=profile.status if profile is not None else None,
        )
        return ready.model_dump(mode="json")

    async def _load_held(self) -> None:
        statement = select(HandoffRequest.id).where(
            HandoffRequest.agent_id == self.account.id, HandoffRequest.state.in_(HOLDING_STATES)
        )
        async with self.request.app[DATABASE].sessions() as session:
            self._held = set(await session.scalars(statement))

    def _passes(self, event: LiveEvent) -> bool:
        """Whether this socket forwards the event (and, for a handoff event, note whom it is held by)."""
        if event.type == "agent.status":
            return True
        if event.type == "handoff.message":
            return self._is_admin or event.payload.get("handoff_id") in self._held
        if not event.type.startswith("handoff."):
            return False
        handoff = _handoff_of(event)
        if handoff is not None:
            if handoff["agent_id"] == self.account.id and handoff["state"] in HOLDING_STATES:
                self._held.add(handoff["id"])
            else:
                self._held.discard(handoff["id"])
        return True

    async def _push_events(self) -> None:
        while True:
            try:
                event = await self.subscription.next(timeout=HEARTBEAT_SECONDS)
            except StopAsyncIteration:
                # Shutdown, or the live events were lost: the page reconnects and re-reads.
                await self.socket.close(code=1001, message=b"live events ended: reconnect")
                return
            if event is not None and self._passes(event):
                await self._send_frame({"type": event.type, "payload": event.payload})
            now = time.monotonic()
            if now - self._last_session_check >= SESSION_CHECK_SECONDS:
                self._last_session_check = now
                if not await self._session_valid():
                    await self._close_for_session()
                    return
            if now - self._last_sent >= HEARTBEAT_SECONDS:
                await self._send_frame({"type": "heartbeat", "payload": {}})

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        text = json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
        async with self._send_lock:
            if self.socket.closed:
                return
            try:
                await self.socket.send_str(text)
            except ConnectionResetError:
                return  # the page went away; the reader's loop ends with the socket
            self._last_sent = time.monotonic()

    async def _send_error(
        self,
        client_id: str | None,
        status: int,
        message: str,
        fields: Mapping[str, str] | None = None,
        retry_after: str | None = None,
    ) -> None:
        error: dict[str, Any] = {"status": status, "message": message}
        if fields:
            error["fields"] = dict(fields)
        if retry_after is not None:
            error["retry_after"] = int(retry_after)
        await self._send_frame({"type": "error", "client_id": client_id, "error": error})

    # --- the person's session -----------------------------------------------------------------------------

    async def _session_valid(self) -> bool:
        statement = (
            select(AccountSession.id)
            .join(Account, AccountSession.account_id == Account.id)
            .where(
                AccountSession.id == self.request[CURRENT_SESSION].id,
                AccountSession.expires_at > utcnow(),
                Account.disabled_at.is_(None),
            )
        )
        async with self.request.app[DATABASE].sessions() as session:
            return await session.scalar(statement) is not None

    async def _close_for_session(self) -> None:
        await self.socket.close(code=SESSION_ENDED_CLOSE_CODE, message=b"session ended: sign in again")

    # --- page to server -----------------------------------------------------------------------------------

    async def _over_limit(self, limit: RateLimit, key: str, client_id: str | None) -> bool:
        retry_after = await self.request.app[RATE_LIMITER].hit(limit, key)
        if retry_after is None:
            return False
        await self._send_error(
            client_id, 429, f"too many frames: try again in {retry_after} s", retry_after=str(retry_after)
        )
        return True

    async def _answer_safely(self, data: str) -> None:
        """Answer a frame; an unexpected failure (the database down) is an error frame, not a lost socket."""
        try:
            await self._answer(data)
        except Exception:
            log.exception("answering a console frame failed")
            await self._send_error(None, 500, "internal error")

    async def _answer(self, data: str) -> None:
        try:
            frame = json.loads(data)
        except (ValueError, RecursionError):  # ValueError: not JSON, or an integer of over 4,300 digits
            frame = None
            malformed = True
        else:
            malformed = False
        client_id = frame.get("client_id") if isinstance(frame, dict) else None
        client_id = client_id if isinstance(client_id, str) else None
        if await self._over_limit(CONSOLE_FRAME_LIMIT, self._frame_key, client_id):
            return
        if malformed:
            await self._send_error(None, 400, "malformed JSON", {"frame": "not JSON"})
            return
        if not isinstance(frame, dict):
            await self._send_error(None, 400, "a frame must be a JSON object", {"frame": "not an object"})
            return
        if frame.get("type") != "send":
            await self._send_error(client_id, 400, "unknown frame type", {"type": "must be send"})
            return
        try:
            send = SendFrame.model_validate(frame)
        except ValidationError as error:
            await self._send_error(client_id, 400, "invalid send frame", error_fields(error))
            return
        limits = self.request.app[RATE_LIMITS]
        if await self._over_limit(limits.account, self.request[CURRENT_CALLER], send.client_id):
            return
        if not await self._session_valid():
            await self._close_for_session()
            return
        await self._send(send)

    async def _send(self, send: SendFrame) -> None:
        messaging = self.request.app[HANDOFF_MESSAGING]
        try:
            message = await messaging.send_agent_message(
                send.handoff_id, self.actor, send.text, send.client_id
            )
        except ApiError as error:
            await self._send_error(
                send.client_id, error.status, error.message, error.fields, error.headers.get("Retry-After")
            )
            return
        except Exception:
            log.exception("sending an agent's message of handoff %d failed", send.handoff_id)
            await self._send_error(send.client_id, 500, "internal error")
            return
        try:
            entry = HandoffMessageOut.model_validate(message, from_attributes=True).model_dump(mode="json")
        except ValidationError:
            # Stored and relayed, but not readable as an entry: the page re-reads the transcript.
            log.exception("the stored message of handoff %d is not a transcript entry", send.handoff_id)
            await self._send_error(send.client_id, 500, "sent, but the answer could not be read")
            return
        await self._send_frame(
            {"type": "sent", "client_id": send.client_id, "handoff_id": send.handoff_id, "message": entry}
        )
