"""The real cs_backend served on a local port from a thread of its own, for clients that block (schemathesis
sends its requests with `requests`), and the credentials such a client presents: a service signature over the
request exactly as it is sent, or a bearer session of an admin.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from datetime import timedelta
from typing import Any, TypeVar

import requests
from aiohttp import web
from sqlalchemy import select

from cs_backend.accounts import service as accounts
from cs_backend.accounts.models import Account
from cs_backend.app_keys import DATABASE
from cs_backend.auth.signing import signature_headers

from .helpers import FAST_HASHER

T = TypeVar("T")
HOST = "127.0.0.1"


class ServedApp:
    """An aiohttp app running on its own event loop in a daemon thread, until `stop()`."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="served-app", daemon=True)
        self._runner = web.AppRunner(app, access_log=None)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the app's loop (where its database engine lives) and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    def start(self) -> None:
        self._thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        try:
            self.run(self._runner.cleanup())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    def new_admin_session(self, email: str = "fuzz-admin@example.com") -> str:
        """A new bearer session token of the admin account `email`, created on first use."""
        return self.run(self._new_admin_session(email))

    async def _new_admin_session(self, email: str) -> str:
        database = self.app[DATABASE]
        async with database.sessions() as session:
            account = await session.scalar(select(Account).where(Account.email == email))
        if account is None:
            account = await accounts.create_account(
                database, email, "Fuzz Admin", "admin", "correct horse battery staple", FAST_HASHER
            )
        new_session = await accounts.start_session(database, account, timedelta(hours=1))
        return new_session.token


class ServiceSignature(requests.auth.AuthBase):
    """Signs a `requests` request as a service caller, over its final method, path and query, and body."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        assert isinstance(body, bytes), "streamed bodies cannot be signed in advance"
        assert request.method is not None
        request.headers.update(signature_headers(self.secret, request.method, request.path_url, body))
        return request


class BearerSession(requests.auth.AuthBase):
    """A bearer session of its own for every request: one that signs out (POST /api/auth/logout) ends only
    its own session."""

    def __init__(self, new_token: Callable[[], str]) -> None:
        self.new_token = new_token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.new_token()}"
        return request
