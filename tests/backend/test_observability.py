"""Observability through the real app: the request id (taken or made, echoed, on every log record of the
request, the access log line included), JSON and text log lines (personal data still redacted), and
GET /metrics (its token, request metrics by route template, database pool, outcomes lag, routing queue)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cs_backend.api.request_id import RequestIdFilter
from cs_backend.config import Settings, SettingsError
from cs_backend.db import Database
from cs_backend.logs import AccessLogger, log_formatter
from cs_backend.main import create_app
from cs_backend.outcomes.classifier import to_datetime
from cs_backend.outcomes.consumer import OutcomeConsumer
from cs_backend.outcomes.sources import Batch, SqlEventSource
from launcher.stack import Ports, service_env
from log_redaction import install_log_redaction

from .rasa_events import FAQ_RESOLVED, RECORDED_AT, conversation, write_rasa_events

METRICS_TOKEN = "m" * 40
HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What cs_backend's root handler would print with LOG_FORMAT=json (configure_logging's handler)."""
    install_log_redaction()  # as configure_logging does first (idempotent)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_formatter("json"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def app_with_a_logging_route(settings: Settings) -> web.Application:
    app = create_app(settings)

    async def chatty(request: web.Request) -> web.Response:
        logging.getLogger("cs_backend.test").info("working for ada@example.com")
        return web.json_response({"ok": True})

    app.router.add_get("/test/chatty", chatty)
    return app


async def test_the_request_id_is_taken_echoed_and_on_every_record(
    aiohttp_client: Any, settings: Settings, json_lines: io.StringIO
) -> None:
    server = TestServer(app_with_a_logging_route(settings))
    await server.start_server(access_log_class=AccessLogger)  # as `python -m cs_backend serve` runs it
    client = await aiohttp_client(server)
    response = await client.get("/test/chatty", headers={"X-Request-ID": "msg-42.a:b_c"})
    assert response.status == 200
    assert response.headers["X-Request-ID"] == "msg-42.a:b_c"

    lines = records(json_lines)
    mine = [line for line in lines if line.get("request_id") == "msg-42.a:b_c"]
    assert {line["logger"] for line in mine} == {"cs_backend.test", "aiohttp.access"}
    assert all(line["request_id"] is None for line in lines if line not in mine)  # outside any request
    work = next(line for line in mine if line["logger"] == "cs_backend.test")
    assert work["message"] == "working for [email]" and work["level"] == "INFO" and "time" in work
    access = next(line for line in mine if line["logger"] == "aiohttp.access")
    assert access["status"] == 200 and access["message"].startswith("GET /test/chatty 200 ")


@pytest.mark.parametrize("given", [None, "", "x" * 129, "has space", "a/b", "id;drop", "ünïcode"])
async def test_a_missing_or_malformed_request_id_is_replaced(
    aiohttp_client: Any, settings: Settings, given: str | None
) -> None:
    client = await aiohttp_client(create_app(settings), sign=False)
    headers = {} if given is None else {"X-Request-ID": given}
    response = await client.get("/health/live", headers=headers)
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])
    # Refusals and unknown paths carry one too.
    assert HEX_ID.fullmatch((await client.get("/api/tickets")).headers["X-Request-ID"])
    assert (await client.get("/nowhere", headers={"X-Request-ID": "abc"})).headers["X-Request-ID"] == "abc"


def test_text_lines_keep_their_format_with_the_request_id_after_the_message() -> None:
    formatter = log_formatter("text")
    record = logging.LogRecord("cs_backend.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    assert formatter.format(record).endswith(" INFO cs_backend.x: hello you")
    record.request_id = "r1"
    assert formatter.format(record).endswith(" INFO cs_backend.x: hello you [r1]")


def test_log_format_and_metrics_token_settings() -> None:
    assert Settings.from_env({}).log_format == "json"
    assert Settings.from_env({"LOG_FORMAT": "TEXT"}).log_format == "text"
    with pytest.raises(SettingsError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml"})
    assert Settings.from_env({}).metrics_token is None
    with pytest.raises(SettingsError, match="METRICS_TOKEN") as refused:
        Settings.from_env({"METRICS_TOKEN": "short-secret"})
    assert "short-secret" not in str(refused.value)


def test_the_launcher_asks_for_text_lines_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    ports = Ports.from_env({})
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert service_env(ports)["LOG_FORMAT"] == "text"
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert service_env(ports)["LOG_FORMAT"] == "json"


async def test_metrics_are_not_published_without_a_token(aiohttp_client: Any, settings: Settings) -> None:
    settings = dataclasses.replace(settings, metrics_token=None)
    client = await aiohttp_client(create_app(settings), sign=False)
    assert (await client.get("/metrics")).status == 404
    signed = await aiohttp_client(create_app(settings))
    assert (await signed.get("/metrics")).status == 404  # the service's signature is not the token


async def test_metrics_need_their_token(aiohttp_client: Any, settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, metrics_token=METRICS_TOKEN))
    client = await aiohttp_client(app, sign=False)
    for headers in ({}, {"Authorization": "Bearer " + "x" * 40}, {"Authorization": f"Basic {METRICS_TOKEN}"}):
        response = await client.get("/metrics", headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "cs_backend_" not in await response.text()


def samples(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def test_metrics_report_requests_by_route_template_pool_lag_and_queue(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    events_db = tmp_path / "rasa_events.db"
    write_rasa_events(events_db, conversation(FAQ_RESOLVED, "bob", RECORDED_AT))
    settings = dataclasses.replace(
        settings,
        metrics_token=METRICS_TOKEN,
        rasa_events_url=f"sqlite:///{events_db}",
        outcome_poll_interval_seconds=3600,  # one cycle at startup
    )
    client = await aiohttp_client(create_app(settings))
    for ticket_id in (123456, 123457):
        assert (await client.get(f"/api/tickets/{ticket_id}")).status == 404
    assert (await client.get("/no/such/path")).status == 404

    for _ in range(100):  # the startup cycle runs in the background: until it has caught up
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        values = samples(await response.text())
        if values.get("cs_backend_outcomes_lag_seconds") == 0:
            break
        await asyncio.sleep(0.05)
    duration = "cs_backend_http_request_duration_seconds"
    assert values[f'{duration}_count{{method="GET",route="/api/tickets/{{id}}",status="404"}}'] == 2
    assert values[f'{duration}_count{{method="GET",route="unmatched",status="404"}}'] == 1
    assert not any("123456" in name or "/no/such" in name for name in values)
    assert values["cs_backend_db_pool_checked_out"] >= 0
    assert values["cs_backend_routing_queue_depth"] == 0
    assert values["cs_backend_outcomes_source_up"] == 1
    assert values["cs_backend_outcomes_lag_events"] == 0  # the startup cycle read everything
    assert values["cs_backend_outcomes_lag_seconds"] == 0


async def test_the_consumer_reports_its_lag_while_behind(database_url_events: tuple[Database, Path]) -> None:
    """A cycle that read one batch of five, then lost the source: the rest is behind, and how old."""
    database, events_db = database_url_events
    events = conversation(FAQ_RESOLVED, "bob", RECORDED_AT)
    write_rasa_events(events_db, events)
    now = to_datetime(RECORDED_AT) + timedelta(minutes=10)
    source = SqlEventSource(f"sqlite:///{events_db}", database)
    consumer = OutcomeConsumer(database, source, timedelta(minutes=30), clock=lambda: now, batch_size=5)
    read = source.fetch
    calls = 0

    async def then_unreachable(limit: int) -> Batch:
        nonlocal calls
        calls += 1
        return await read(limit) if calls == 1 else Batch([], drained=True, reachable=False)

    source.fetch = then_unreachable  # type: ignore[method-assign]
    await consumer.run_once()
    await source.close()
    assert consumer.lag.events == len(events) - 5
    assert consumer.lag.seconds == pytest.approx((now - to_datetime(events[0]["timestamp"])).total_seconds())
    assert consumer.lag.reachable is False


@pytest.fixture
async def database_url_events(
    outcomes_database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Database, Path]]:
    database = Database.connect(outcomes_database_url)
    yield database, tmp_path / "rasa_events.db"
    await database.dispose()


async def test_streams_carry_the_request_id_too(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/events", headers={"X-Request-ID": "stream-1"})
    try:
        assert response.status == 200 and response.content_type == "text/event-stream"
        assert response.headers["X-Request-ID"] == "stream-1"
    finally:
        response.close()
