"""A local stand-in for Slack's Web API (the external platform): it records every `chat.postMessage` call and
answers as Slack does (https://api.slack.com/methods/chat.postMessage), so the Slack channel can be pointed at
it with SLACK_API_URL.

It runs an aiohttp server in a thread of its own, with its own event loop: the Rasa server under test (another
process) and the test's own event loop can both reach it while a test waits.

By hand (docs/CHANNELS.md, "Slack"): `python -m tests.bot.fake_slack_api [PORT]` serves it on PORT (default
8899) and prints each message the bot posts as a line of JSON, until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from launcher.stack import free_port

START_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class PostedMessage:
    """One chat.postMessage call: the bearer token it carried and its JSON arguments."""

    authorization: str
    arguments: dict[str, Any]

    @property
    def channel(self) -> str:
        return str(self.arguments.get("channel"))

    @property
    def thread_ts(self) -> str | None:
        return self.arguments.get("thread_ts")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The button elements of the message's actions blocks, in order."""
        return [
            element
            for block in self.arguments.get("blocks") or ()
            if block.get("type") == "actions"
            for element in block["elements"]
            if element.get("type") == "button"
        ]


class FakeSlackApi:
    """`with FakeSlackApi() as slack:` serves http://127.0.0.1:<port>/api/<method> until the block ends."""

    def __init__(self, port: int | None = None, echo: Callable[[PostedMessage], None] | None = None) -> None:
        self.port = port or free_port()
        self._echo = echo
        self._posted: list[PostedMessage] = []
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve()), name="fake-slack", daemon=True
        )

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL is set to."""
        return f"http://127.0.0.1:{self.port}/api"

    def posted(self) -> list[PostedMessage]:
        with self._lock:
            return list(self._posted)

    def __enter__(self) -> FakeSlackApi:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_SECONDS):
            raise RuntimeError("the fake Slack API did not start")
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT_SECONDS)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/api/{method}", self._api_method)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    async def _api_method(self, request: web.Request) -> web.Response:
        if request.match_info["method"] != "chat.postMessage":
            return web.json_response({"ok": False, "error": "unknown_method"})
        # slack_sdk sends the arguments as JSON with the token in the Authorization header.
        arguments = await request.json()
        message = PostedMessage(request.headers.get("Authorization", ""), arguments)
        with self._lock:
            self._posted.append(message)
        if self._echo is not None:
            self._echo(message)
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        return web.json_response(
            {
                "ok": True,
                "channel": message.channel,
                "ts": ts,
                "message": {"type": "message", "bot_id": "B0FAKE", "ts": ts, **arguments},
            }
        )


def _print(message: PostedMessage) -> None:
    print(json.dumps(asdict(message)["arguments"], ensure_ascii=False), flush=True)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8899
    with FakeSlackApi(port, echo=_print) as fake:
        print(f"fake Slack Web API at {fake.api_url} (SLACK_API_URL); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
