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
    each other request is recorded and answered with `status` after `delay` seconds.

    Also the tracker store as Rasa 3.6's API shows it: `GET .../tracker` answers the tracker of `trackers`
    (sender id → events; an unknown one gets an empty tracker), `PUT .../tracker/events` replaces a tracker's
    events (recorded in `replaced`). Both answer `status` too, so a test can make Rasa fail.
    """

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(32)
        self.requests: list[dict[str, Any]] = []
        self.refused = 0
        self.status = 200
        self.delay = 0.0
        self.app = web.Application()
        self.trackers: dict[str, list[dict[str, Any]]] = {}
        self.replaced: list[str] = []
        self.app.router.add_post("/conversations/{sender_id}/trigger_intent", self.trigger_intent)
        self.app.router.add_get("/conversations/{sender_id}/tracker", self.get_tracker)
        self.app.router.add_put("/conversations/{sender_id}/tracker/events", self.replace_events)
        self.server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/"))

    def _refusal(self, request: web.Request) -> web.Response | None:
        if request.query.get("token") == self.token:
            return None
        self.refused += 1
        # Rasa's answer (rasa.server.requires_auth), which does not echo the token.
        return web.json_response(
            {"status": "failure", "reason": "NotAuthenticated", "message": "User is not authenticated."},
            status=401,
        )

    def _failure(self) -> web.Response | None:
        if self.status >= 300:
            return web.json_response({"status": "failure", "message": "boom"}, status=self.status)
        return None

    async def get_tracker(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request) or self._failure()
        if refusal is not None:
            return refusal
        sender_id = request.match_info["sender_id"]
        return web.json_response({"sender_id": sender_id, "events": self.trackers.get(sender_id, [])})

    async def replace_events(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request) or self._failure()
        if refusal is not None:
            return refusal
        sender_id = request.match_info["sender_id"]
        events = await request.json()
        assert isinstance(events, list)
        self.trackers[sender_id] = events
        self.replaced.append(sender_id)
        return web.json_response({"sender_id": sender_id, "events": events})

    async def trigger_intent(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
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
