"""What the end-to-end tests share: the running service's addresses, database, environment and tokens."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from bot.channels.widget_sessions import WidgetSessions
from cs_backend.auth.signing import signature_headers
from launcher.stack import (
    ACTION_SERVER_TOKEN_VARIABLE,
    RASA_TOKEN_VARIABLE,
    REST_TOKEN_VARIABLE,
    SERVICE_SECRET_VARIABLE,
    WIDGET_SECRET_VARIABLE,
    Ports,
)


@dataclass(frozen=True)
class RunningService:
    ports: Ports
    database_path: Path
    log_dir: Path
    env: dict[
        str, str
    ]  # what the service runs with (DATABASE_URL, RASA_URL, tokens...), for its CLI commands

    @property
    def rasa_token(self) -> str:
        """The token of Rasa's HTTP API (RASA_AUTH_TOKEN)."""
        return self.env[RASA_TOKEN_VARIABLE]

    @property
    def rest_token(self) -> str:
        """The REST channel's bearer token (RASA_REST_TOKEN)."""
        return self.env[REST_TOKEN_VARIABLE]

    @property
    def action_server_token(self) -> str:
        """The token Rasa sends to the action server (ACTION_SERVER_TOKEN)."""
        return self.env[ACTION_SERVER_TOKEN_VARIABLE]

    def widget_sender(self, token: str) -> str:
        """The sender id of a widget session token: what Rasa's socket.io channel derives from it."""
        return WidgetSessions(self.env[WIDGET_SECRET_VARIABLE]).sender_id(token)

    @property
    def service_secret(self) -> str:
        """The key of the signatures of service calls to cs_backend (CS_BACKEND_SERVICE_SECRET)."""
        return self.env[SERVICE_SECRET_VARIABLE]

    async def backend_json(self, path: str, **params: str) -> Any:
        """GET a cs_backend resource as a service caller does (signed), asserting a 200."""
        url = URL(f"{self.ports.backend_url}{path}").with_query(params or None)
        headers = signature_headers(self.service_secret, "GET", url.raw_path_qs)
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    def query(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Read the service's database directly: what was stored, not what the API says."""
        with sqlite3.connect(self.database_path) as connection:
            connection.row_factory = sqlite3.Row
            return connection.execute(sql, params).fetchall()

    def query_events(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rasa's events (the SQLite file of its SQL event broker): the `data` column of each row, parsed."""
        with sqlite3.connect(self.env["RASA_EVENTS_DB"]) as connection:
            rows = connection.execute(sql, params).fetchall()
        return [json.loads(data) for (data, *_) in rows]

    async def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation's tracker from Rasa's HTTP API (with its token)."""
        url = f"{self.ports.rasa_url}/conversations/{sender}/tracker"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, params={"token": self.rasa_token}) as response,
        ):
            assert response.status == 200, await response.text()
            tracker: dict[str, Any] = await response.json()
        return tracker

    async def form_state(self, sender: str) -> tuple[str | None, str | None]:
        """(requested slot, active form) of the conversation: what the assistant is asking for."""
        tracker = await self.tracker(sender)
        return tracker["slots"].get("requested_slot"), (tracker.get("active_loop") or {}).get("name")
