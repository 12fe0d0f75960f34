"""Live events: both stores deliver, SSE streams them, failures never fail requests, shutdown is quick."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from cs_backend.config import Settings
from cs_backend.live_events import InProcessLiveEvents, LiveEvents, RedisLiveEvents
from cs_backend.main import create_app

from .helpers import ticket_payload
from .service_signing import signing_middleware

TIMEOUT = 5.0


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, redis_channel: str) -> AsyncIterator[LiveEvents]:
    if request.param == "in-process":
        live_events: LiveEvents = InProcessLiveEvents()
    else:
        live_events = RedisLiveEvents(request.getfixturevalue("redis_url"), redis_channel)
    yield live_events
    await live_events.close()


async def test_store_delivers_to_every_subscriber_in_order(store: LiveEvents) -> None:
    async with store.subscribe() as first, store.subscribe() as second:
        await store.publish("ticket.created", {"id": 1, "subject": "Late order"})
        await store.publish("ticket.updated", {"id": 1, "status": "pending"})
        for subscription in (first, second):
            events = [await asyncio.wait_for(anext(subscription), TIMEOUT) for _ in range(2)]
            assert [(e.type, e.payload["id"]) for e in events] == [
                ("ticket.created", 1),
                ("ticket.updated", 1),
            ]
            assert events[0].payload == {"id": 1, "subject": "Late order"}


async def test_closing_the_store_ends_subscriptions(store: LiveEvents) -> None:
    async with store.subscribe() as subscription:
        waiting = asyncio.create_task(subscription.next())
        await asyncio.sleep(0.05)
        await store.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, TIMEOUT)


async def test_a_closed_subscription_receives_nothing_more(store: LiveEvents) -> None:
    async with store.subscribe() as subscription:
        pass
    await store.publish("ticket.created", {"id": 2})
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(subscription.next(), TIMEOUT)


@pytest.mark.redis
async def test_redis_events_cross_process_boundaries(redis_url: str, redis_channel: str) -> None:
    """Two stores on one channel stand for two backend processes."""
    publisher, subscriber = (
        RedisLiveEvents(redis_url, redis_channel),
        RedisLiveEvents(redis_url, redis_channel),
    )
    try:
        async with subscriber.subscribe() as subscription:
            await publisher.publish("feedback.created", {"id": 7})
            event = await asyncio.wait_for(anext(subscription), TIMEOUT)
            assert (event.type, event.payload) == ("feedback.created", {"id": 7})
    finally:
        await publisher.close()
        await subscriber.close()


# ---------------------------------------------------------------------------------------------------------
# Through the app


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def live_client(
    request: pytest.FixtureRequest, aiohttp_client: Any, migrated_database_url: str, redis_channel: str
) -> TestClient[Any, Any]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    settings = Settings(database_url=migrated_database_url, redis_url=redis_url, redis_channel=redis_channel)
    return await aiohttp_client(create_app(settings))


async def read_event(stream: ClientResponse) -> tuple[str, dict[str, Any]]:
    """The next `event:`/`data:` block of the stream (comments skipped)."""
    event_type, data = None, None
    while True:
        line = (await asyncio.wait_for(stream.content.readline(), TIMEOUT)).decode()
        assert line, "the stream ended"
        line = line.rstrip("\n")
        if line.startswith(":"):
            continue
        if line.startswith("event: "):
            event_type = line[len("event: ") :]
        elif line.startswith("data: "):
            data = json.loads(line[len("data: ") :])
        elif line == "" and event_type is not None:
            assert data is not None
            return event_type, data


@asynccontextmanager
async def open_stream(client: TestClient[Any, Any]) -> AsyncIterator[ClientResponse]:
    """GET /api/events, subscribed once this yields; the stream is closed on leaving."""
    stream = await client.get("/api/events")
    try:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        # The first line is a comment: the client knows the stream is open (and subscribed) before any event.
        first = await asyncio.wait_for(stream.content.readline(), TIMEOUT)
        assert first.startswith(b":")
        yield stream
    finally:
        stream.close()


async def test_sse_streams_ticket_and_feedback_events(live_client: TestClient[Any, Any]) -> None:
    async with open_stream(live_client) as stream:
        created = await (await live_client.post("/api/tickets", json=ticket_payload(subject="Broken"))).json()
        assert await read_event(stream) == ("ticket.created", created)

        updated = await (
            await live_client.patch(f"/api/tickets/{created['id']}", json={"status": "pending"})
        ).json()
        assert await read_event(stream) == ("ticket.updated", updated)

        feedback = await (await live_client.post("/api/feedback", json={"kind": "csat", "score": 5})).json()
        assert await read_event(stream) == ("feedback.created", feedback)


async def test_repeated_idempotent_create_publishes_once(live_client: TestClient[Any, Any]) -> None:
    async with open_stream(live_client) as stream:
        headers = {"Idempotency-Key": "once"}
        first = await (await live_client.post("/api/tickets", json=ticket_payload(), headers=headers)).json()
        await live_client.post("/api/tickets", json=ticket_payload(), headers=headers)
        second = await (await live_client.post("/api/tickets", json=ticket_payload())).json()
        assert await read_event(stream) == ("ticket.created", first)
        assert await read_event(stream) == ("ticket.created", second)


async def test_refused_requests_publish_nothing(live_client: TestClient[Any, Any]) -> None:
    async with open_stream(live_client) as stream:
        ticket = await (await live_client.post("/api/tickets", json=ticket_payload())).json()
        assert (await read_event(stream))[0] == "ticket.created"
        assert (
            await live_client.patch(f"/api/tickets/{ticket['id']}", json={"status": "closed"})
        ).status == 409
        assert (await live_client.post("/api/feedback", json={"kind": "csat", "score": 9})).status == 400
        marker = await (await live_client.post("/api/feedback", json={"kind": "csat", "score": 1})).json()
        assert await read_event(stream) == ("feedback.created", marker)  # nothing came before it


async def test_shutdown_ends_open_streams_promptly(aiohttp_server: Any, settings: Settings) -> None:
    server = await aiohttp_server(create_app(settings))
    async with aiohttp.ClientSession(middlewares=(signing_middleware(),)) as session:
        streams = []
        for _ in range(3):
            stream = await session.get(server.make_url("/api/events"))
            assert (await asyncio.wait_for(stream.content.readline(), TIMEOUT)).startswith(b":")
            streams.append(stream)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(server.close(), TIMEOUT)
        assert loop.time() - started < 2.0, "shutdown waited for the open streams"
        for stream in streams:
            # The server ended each stream cleanly: reading reaches the end instead of hanging.
            assert (await asyncio.wait_for(stream.content.read(), TIMEOUT)).strip() == b""


async def test_a_broken_live_events_store_never_fails_requests(
    aiohttp_client: Any, migrated_database_url: str, counts: Any
) -> None:
    # Nothing listens on port 1: every publish fails, and SQL must still take the writes.
    settings = Settings(database_url=migrated_database_url, redis_url="redis://127.0.0.1:1/0")
    client = await aiohttp_client(create_app(settings))
    response = await client.post("/api/tickets", json=ticket_payload())
    assert response.status == 201
    ticket = await response.json()
    assert (await client.patch(f"/api/tickets/{ticket['id']}", json={"status": "resolved"})).status == 200
    assert (await client.post("/api/feedback", json={"kind": "ces", "score": 7})).status == 201
    assert await counts(client) == {"customers": 1, "conversations": 0, "tickets": 1, "feedback": 1}
    # The stream itself cannot work without the store: a clear 503, not a hanging connection.
    response = await client.get("/api/events")
    assert response.status == 503
    assert (await response.json())["error"]["status"] == 503
