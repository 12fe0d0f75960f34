"""A local webhook receiver for the alert tests: it checks each delivery's signature the way a third party
would (its own HMAC over the raw body, not cs_backend's code) and answers the statuses a test scripts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

WEBHOOK_SECRET = "w" * 40


@dataclass
class Received:
    delivery_id: str
    body: dict[str, Any]
    signature_valid: bool


@dataclass
class WebhookReceiver:
    secret: str = WEBHOOK_SECRET
    # The statuses of the next requests, in order; 200 once they run out.
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        return app

    def check(self, header: str, raw: bytes) -> bool:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = parts["t"]
        if abs(time.time() - int(timestamp)) > 300:
            return False
        expected = hmac.new(self.secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts["v1"])

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        valid = self.check(request.headers.get("X-CS-Signature", ""), raw)
        self.received.append(Received(request.headers.get("X-CS-Delivery", ""), json.loads(raw), valid))
        self.arrived.set()
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status if valid else 401)

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        async def enough() -> None:
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)
