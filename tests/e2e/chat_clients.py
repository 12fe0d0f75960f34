"""Two ways a customer reaches the Rasa server in these tests: the REST channel, and socket.io as the widget
does."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio


@dataclass
class BotTurn:
    texts: list[str]
    buttons: list[dict[str, str]]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


class RestChat:
    """Rasa's REST channel: one POST per user message, the bot's messages in the response."""

    def __init__(self, rasa_url: str, token: str, sender: str | None = None):
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        # The REST channel's bearer token (RASA_REST_TOKEN): it is for trusted callers only.
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sender = sender or f"rest-{uuid.uuid4().hex[:12]}"

    async def say(self, message: str) -> BotTurn:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.url,
                json={"sender": self.sender, "message": message},
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=60),
            ) as response,
        ):
            response.raise_for_status()
            messages: list[dict[str, Any]] = await response.json()
        return BotTurn(
            texts=[m["text"] for m in messages if m.get("text")],
            buttons=[b for m in messages for b in m.get("buttons", [])],
        )


@dataclass
class SocketChat:
    """Rasa's socket.io channel, spoken the way cs_backend/web/static/widget.js speaks it: it presents `token`
    (None: asks for a new session) and keeps the session token the server confirms. Its sender id is derived
    from the token with the server's secret (RunningService.widget_sender)."""

    rasa_url: str
    transports: list[str] = field(default_factory=lambda: ["websocket"])
    token: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.confirmed = asyncio.Event()
        self.client.on("session_confirm", self._on_confirm)
        self.client.on("bot_uttered", self._on_bot_uttered)

    async def _on_confirm(self, token: Any) -> None:
        self.token = token
        self.confirmed.set()

    async def _on_bot_uttered(self, data: dict[str, Any]) -> None:
        await self.inbox.put(data)

    async def connect(self) -> None:
        await self.client.connect(
            self.rasa_url, transports=self.transports, socketio_path="/socket.io", headers=self.headers
        )
        await self.client.emit("session_request", {"session_id": self.token})
        await asyncio.wait_for(self.confirmed.wait(), 10)

    async def close(self) -> None:
        await self.client.disconnect()

    async def say(self, message: str, quiet_for: float = 1.5, first_within: float = 30) -> BotTurn:
        """Send a message and collect bot messages until none arrives for `quiet_for` seconds."""
        await self.client.emit("user_uttered", {"message": message})
        received = [await asyncio.wait_for(self.inbox.get(), first_within)]
        while True:
            try:
                received.append(await asyncio.wait_for(self.inbox.get(), quiet_for))
            except asyncio.TimeoutError:
                break
        return BotTurn(
            texts=[m["text"] for m in received if m.get("text")],
            buttons=[
                {"title": b["title"], "payload": b["payload"]}
                for m in received
                for b in (m.get("quick_replies") or m.get("buttons") or [])
            ],
        )
