"""The cap on open event streams (cs_backend/events/slots.py): per caller 429, per process 503, both with
Retry-After, refused before subscribing; the streams already open keep receiving events, and a closed
stream frees its slot."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from cs_backend.app_keys import EVENT_STREAM_SLOTS
from cs_backend.config import Settings
from cs_backend.main import create_app

from .helpers import assert_error, ticket_payload
from .test_accounts import bearer, new_account
from .test_auth import JSON, signed_headers
from .test_live_events import TIMEOUT, read_event


async def open_as(client: TestClient[Any, Any], headers: dict[str, str]) -> ClientResponse:
    return await client.get("/api/events", headers=headers)


async def assert_open(stream: ClientResponse) -> None:
    assert stream.status == 200, await stream.text()
    assert (await asyncio.wait_for(stream.content.readline(), TIMEOUT)).startswith(b":")


def service() -> dict[str, str]:
    return signed_headers("GET", "/api/events")


async def test_streams_over_a_cap_are_refused_and_the_open_ones_keep_working(
    aiohttp_client: Any, settings: Settings
) -> None:
    capped = dataclasses.replace(settings, event_streams_max=3, event_streams_per_principal_max=2)
    client = await aiohttp_client(create_app(capped), sign=False)
    ada = await bearer(client, await new_account(client, "agent", "ada@example.com"))
    bob = await bearer(client, await new_account(client, "agent", "bob@example.com"))
    slots = client.app[EVENT_STREAM_SLOTS]

    streams = [await open_as(client, service()), await open_as(client, service())]
    for stream in streams:
        await assert_open(stream)
    refused = await open_as(client, service())
    assert refused.status == 429  # before reading a body: a stream that opened would never end
    await assert_error(refused, 429, message="too many open event streams for this caller")
    assert int(refused.headers["Retry-After"]) > 0

    streams.append(await open_as(client, ada))
    await assert_open(streams[-1])
    full = await open_as(client, bob)
    assert full.status == 503
    await assert_error(full, 503, message="too many open event streams on this server")
    assert int(full.headers["Retry-After"]) > 0
    assert slots.open_count() == 3

    # The open streams still get events.
    body = json.dumps(ticket_payload()).encode()
    created = await client.post(
        "/api/tickets", data=body, headers={**JSON, **signed_headers("POST", "/api/tickets", body)}
    )
    assert created.status == 201
    for stream in streams:
        event_type, data = await read_event(stream)
        assert (event_type, data["id"]) == ("ticket.created", (await created.json())["id"])

    # A stream that ends gives its slot back.
    streams.pop(0).close()
    for _ in range(100):
        if slots.open_count("service") < 2:
            break
        await asyncio.sleep(0.05)
    again = await open_as(client, service())
    await assert_open(again)
    for stream in (*streams, again):
        stream.close()
