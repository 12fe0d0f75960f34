"""A local fake of Telegram's Bot API (https://core.telegram.org/bots/api): it records every method called and
answers as Telegram does, so the Telegram channel's replies can be read by a test (the channel's
TELEGRAM_API_URL points here).

Requests are `POST /bot<token>/<method>` with the parameters as a form (what aiogram sends); each answer is
Telegram's envelope `{"ok": true, "result": ...}`. It runs on its own event loop in a thread, so synchronous
tests and a Rasa server in another process can both use it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from launcher.stack import free_port


@dataclass(frozen=True)
class ApiCall:
    """One Bot API method called: the token in its URL and its parameters (JSON-typed ones decoded)."""

    token: str
    method: str
    parameters: dict[str, Any]


class FakeTelegramApi:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._calls: list[ApiCall] = []
        self._lock = threading.Lock()
        self._next_message_id = 1

    def calls(self, method: str | None = None, chat_id: str | None = None) -> list[ApiCall]:
        with self._lock:
            calls = list(self._calls)
        return [
            call
            for call in calls
            if (method is None or call.method == method)
            and (chat_id is None or str(call.parameters.get("chat_id")) == chat_id)
        ]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        """Until `condition()` holds (the channel answers before its webhook does; this covers any lag)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s; calls so far: {self.calls()}")
            time.sleep(0.05)

    async def _method(self, request: web.Request) -> web.Response:
        form = await request.post()
        parameters: dict[str, Any] = {}
        for key, value in form.items():
            text = str(value)
            # aiogram sends objects (reply_markup, ...) as JSON text.
            parameters[key] = json.loads(text) if text[:1] in "{[" else text
        method = request.match_info["method"]
        with self._lock:
            self._calls.append(ApiCall(request.match_info["token"], method, parameters))
            message_id = self._next_message_id
            self._next_message_id += 1
        if method == "sendMessage":
            result: Any = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": int(parameters["chat_id"]), "type": "private"},
                "text": parameters.get("text", ""),
            }
        else:
            result = True
        return web.json_response({"ok": True, "result": result})

    @contextmanager
    def running(self) -> Iterator[FakeTelegramApi]:
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post(r"/bot{token}/{method}", self._method)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        thread = threading.Thread(target=loop.run_forever, name="fake-telegram-api", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
