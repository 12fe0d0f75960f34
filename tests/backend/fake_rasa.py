"""Rasa's HTTP API played by a small local aiohttp server (conftest's `rasa` fixture starts one per test)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


class FakeRasa:
    """Stands in for Rasa's `POST /conversations/{sender_id}/trigger_intent` behind `--auth-token`: a request
    without the `token` query parameter equal to `token` gets Rasa's 401 answer (and counts in `refused`);
    each other request is recorded and answered with `status` after `delay` seconds."""

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(32)
        self.requests: list[dict[str, Any]] = []
        self.refused = 0
        self.status = 200
        self.delay = 0.0
        self.app = web.Application()
        self.app.router.add_post("/conversations/{sender_id}/trigger_intent", self.trigger_intent)
        self.server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/"))

    async def trigger_intent(self, request: web.Request) -> web.Response:
        if request.query.get("token") != self.token:
            self.refused += 1
            # Rasa's answer (rasa.server.requires_auth), which does not echo the token.
            return web.json_response(
                {"status": "failure", "reason": "NotAuthenticated", "message": "User is not authenticated."},
                status=401,
            )
        self.requests.append(
            {
                "sender_id": request.match_info["sender_id"],
                "raw_path": request.raw_path.split("?")[0],
                "query": dict(request.query),
                "json": await request.json(),
                "content_type": request.content_type,
            }
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status >= 300:
            return web.json_response({"status": "failure", "message": "boom"}, status=self.status)
        return web.json_response({"tracker": {}, "messages": []})
