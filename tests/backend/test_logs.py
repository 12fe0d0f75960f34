"""The access log (cs_backend/logs.py) through the real server: query values never reach it."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from cs_backend.config import Settings
from cs_backend.logs import AccessLogger
from cs_backend.main import create_app


async def test_the_access_log_keeps_query_names_and_drops_their_values(
    aiohttp_client: Any, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    server = TestServer(create_app(settings))
    await server.start_server(access_log_class=AccessLogger)  # as `python -m cs_backend serve` runs it
    client = await aiohttp_client(server)
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        response = await client.get("/api/tickets", params={"email": "ada@example.com", "limit": "5"})
        assert response.status == 200
    lines = [record.getMessage() for record in caplog.records if record.name == "aiohttp.access"]
    assert any(line.startswith("GET /api/tickets?email=…&limit=… 200 ") for line in lines), lines
    assert not any("ada@example.com" in line for line in lines)
