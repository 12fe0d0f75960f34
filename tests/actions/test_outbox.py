"""The action server's outbox (actions/api/outbox.py) and its replayer (actions/api/replayer.py): a write
cs_backend does not confirm is kept on disk, the customer hears that it is saved and will reach the team, and
it reaches the real cs_backend exactly once when it answers again (its Idempotency-Key), in order; a refusal
is kept as dead. The backend is the real one (conftest.py), behind a TCP relay (outbox_support.py) that can be
closed (down) or slow; a fake only answers 503."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from action_test_support import (
    FakeBackend,
    filled_ticket_form_tracker,
    render_response,
    run_action,
    slot_values,
    tickets_of,
)
from aiohttp import web
from conftest import RunningBackend
from outbox_support import TcpRelay

from actions.api.client import BackendClient, Queued
from actions.api.errors import WriteNotQueued
from actions.api.models import Ticket
from actions.api.outbox import Outbox, default_outbox
from actions.api.replayer import OutboxReplayer
from actions.feedback import ActionRecordFeedback
from actions.tickets import ActionCreateTicket

WAIT_SECONDS = 20.0


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def _replayer(outbox: Outbox) -> OutboxReplayer:
    return OutboxReplayer(outbox, idle_interval=0.1, first_backoff=0.05, max_backoff=0.2)


async def _until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await condition():
        assert time.monotonic() < deadline, f"still not {what} after {WAIT_SECONDS} s"
        await asyncio.sleep(0.05)


async def _nothing_pending(outbox: Outbox) -> bool:
    return (await outbox.depth()).pending == 0


def _ticket_body(sender_id: str, email: str = "jane@startup.io") -> bytes:
    body = {"description": f"exports are empty ({sender_id})", "email": email, "sender_id": sender_id}
    return json.dumps({**body, "channel": "rest"}).encode()


# --- the file -----------------------------------------------------------------------------------------------


async def test_entries_survive_a_new_outbox_on_the_same_file_in_order(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    first = Outbox(path)
    for number in range(3):
        await first.put(
            method="POST", path="/api/feedback", body=b'{"n": %d}' % number, idempotency_key=f"k{number}"
        )
    # The same key again (Rasa re-running the action for the same message) keeps one entry.
    again = await first.put(method="POST", path="/api/feedback", body=b'{"n": 0}', idempotency_key="k0")

    reopened = Outbox(path)  # as after a restart of the action server
    pending = await reopened.pending()
    assert [entry.idempotency_key for entry in pending] == ["k0", "k1", "k2"]
    assert [entry.body for entry in pending] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert again.id == pending[0].id
    assert all(entry.state == "pending" and entry.attempts == 0 for entry in pending)
    depth = await reopened.depth()
    assert depth.pending == 3 and depth.oldest_created_at == pending[0].created_at

    await reopened.mark_delivered(pending[0].id)
    await reopened.mark_dead(pending[1].id, "HTTP 400: refused")
    assert [entry.idempotency_key for entry in await Outbox(path).pending()] == ["k2"]
    states = {
        entry.idempotency_key: (entry.state, entry.last_error) for entry in await Outbox(path).entries()
    }
    assert states == {"k0": ("delivered", None), "k1": ("dead", "HTTP 400: refused"), "k2": ("pending", None)}


async def test_replay_after_a_restart_delivers_in_order_exactly_once(
    backend: RunningBackend, sender_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.db"
    keys = [f"{sender_id}-{number}" for number in range(3)]
    for key in keys:
        await Outbox(path).put(
            method="POST", path="/api/tickets", body=_ticket_body(key), idempotency_key=key
        )

    reopened = Outbox(path)
    result = await OutboxReplayer(
        reopened, client_factory=lambda: BackendClient(backend.url)
    ).replay_pending()
    assert (result.delivered, result.dead, result.blocked) == (3, 0, False)
    again = await OutboxReplayer(reopened, client_factory=lambda: BackendClient(backend.url)).replay_pending()
    assert again.delivered == 0

    stored = [tickets_of(backend, key)["items"] for key in keys]
    assert [len(items) for items in stored] == [1, 1, 1]
    ids = [items[0]["id"] for items in stored]
    assert ids == sorted(ids)  # sent oldest first
    assert {entry.state for entry in await reopened.entries()} == {"delivered"}


# --- the backend down, then back ----------------------------------------------------------------------------


async def test_a_ticket_while_the_backend_is_down_is_queued_then_arrives_once(
    backend: RunningBackend, sender_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = TcpRelay(_port(backend.url))  # not started: the backend's address refuses connections
    monkeypatch.setenv("CS_BACKEND_URL", relay.url)
    tracker = filled_ticket_form_tracker(sender_id)

    events, _ = await run_action(ActionCreateTicket(), tracker)

    slots = slot_values(events)
    assert slots["ticket_outcome"] == "queued" and slots["ticket_id"] is None
    (told,) = render_response("utter_ticket_queued", slots)
    assert "saved and will reach our support team shortly" in told and "jane@startup.io" in told
    assert tickets_of(backend, sender_id)["total"] == 0
    outbox = default_outbox()
    (entry,) = await outbox.pending()
    assert entry.path == "/api/tickets" and entry.idempotency_key.startswith("rasa-ticket-")

    replayer = _replayer(outbox)
    replayer.start()
    try:
        await asyncio.sleep(0.3)  # a few passes fail while the backend is down
        assert (await outbox.depth()).pending == 1
        await relay.start()  # the backend is back
        await _until(lambda: _nothing_pending(outbox), "delivered")
    finally:
        await replayer.stop()
        await relay.stop()

    (ticket,) = tickets_of(backend, sender_id)["items"]
    assert ticket["description"] == "the invoice PDF export shows an empty page for March"
    (delivered,) = await outbox.entries()
    assert delivered.state == "delivered" and delivered.attempts >= 2
    # Rasa running the action again for the same message now gets the ticket: still one.
    monkeypatch.setenv("CS_BACKEND_URL", backend.url)
    events, _ = await run_action(ActionCreateTicket(), tracker)
    assert slot_values(events)["ticket_id"] == str(ticket["id"])
    assert tickets_of(backend, sender_id)["total"] == 1


async def test_a_rating_while_the_backend_is_down_is_queued_and_told_as_saved(
    backend: RunningBackend, sender_id: str, backend_down: str
) -> None:
    tracker = filled_ticket_form_tracker(sender_id, csat_score=4, ces_score=6)

    events, _ = await run_action(ActionRecordFeedback(), tracker)

    slots = slot_values(events)
    assert slots["feedback_outcome"] == "queued"
    (told,) = render_response("utter_feedback_queued", slots)
    assert "saved and will reach our team shortly" in told
    pending = await default_outbox().pending()
    assert [json.loads(entry.body)["kind"] for entry in pending] == ["csat", "ces"]


# --- answers ------------------------------------------------------------------------------------------------


async def test_a_503_is_tried_again_after_its_retry_after_then_succeeds(tmp_path: Path) -> None:
    ticket = Ticket(
        id=7,
        subject="Exports",
        description="Exports are empty",
        priority="normal",
        status="open",
        email="jane@startup.io",
        customer_id=3,
        conversation_id=None,
        channel="rest",
        created_at="2026-11-22T07:30:12.345000Z",
        updated_at="2026-11-22T07:30:12.345000Z",
    )

    async def busy_then_fine(number: int, request: web.Request) -> web.StreamResponse:
        if number == 1:
            error = {"error": {"status": 503, "message": "the database is unavailable", "fields": {}}}
            return web.json_response(error, status=503, headers={"Retry-After": "0"})
        return web.json_response(ticket.dict(), status=201)

    outbox = Outbox(tmp_path / "outbox.db")
    async with FakeBackend(busy_then_fine) as fake, BackendClient(fake.url, outbox=outbox) as client:
        created = await client.create_ticket(
            description="Exports are empty", email="e@x.io", idempotency_key="k"
        )
    assert created == ticket
    assert [request.headers["Idempotency-Key"] for request in fake.received] == ["k", "k"]
    assert await outbox.entries() == []


async def test_a_503_through_every_retry_is_queued_and_replayed_when_it_passes(tmp_path: Path) -> None:
    unavailable = {"error": {"status": 503, "message": "the database is unavailable", "fields": {}}}

    async def down_for_four(number: int, request: web.Request) -> web.StreamResponse:
        if number <= 4:
            return web.json_response(unavailable, status=503, headers={"Retry-After": "0"})
        return web.json_response({"id": 1}, status=201)

    outbox = Outbox(tmp_path / "outbox.db")
    async with FakeBackend(down_for_four) as fake:
        async with BackendClient(fake.url, outbox=outbox, backoff=0.01) as client:
            queued = await client.create_feedback(score=5, idempotency_key="rating-1")
        assert isinstance(queued, Queued) and len(fake.received) == 3  # the client's three attempts
        replayer = OutboxReplayer(outbox, client_factory=lambda: BackendClient(fake.url, attempts=1))
        assert (await replayer.replay_pending()).blocked  # the 4th answer: 503 again, kept
        assert (await replayer.replay_pending()).delivered == 1
    (entry,) = await outbox.entries()
    assert (entry.state, entry.attempts, entry.last_error) == ("delivered", 2, None)
    assert [request.headers["Idempotency-Key"] for request in fake.received] == ["rating-1"] * 5


async def test_a_refused_entry_is_kept_dead_and_the_next_one_still_goes(
    backend: RunningBackend, sender_id: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    bad = _ticket_body(f"{sender_id}-bad", email="not-an-email")
    await outbox.put(method="POST", path="/api/tickets", body=bad, idempotency_key=f"{sender_id}-bad")
    await outbox.put(
        method="POST", path="/api/tickets", body=_ticket_body(sender_id), idempotency_key=sender_id
    )

    result = await OutboxReplayer(outbox, client_factory=lambda: BackendClient(backend.url)).replay_pending()

    assert (result.delivered, result.dead, result.blocked) == (1, 1, False)
    dead, delivered = await outbox.entries()
    assert dead.state == "dead" and dead.last_error is not None and dead.last_error.startswith("HTTP 400")
    assert delivered.state == "delivered"
    assert tickets_of(backend, sender_id)["total"] == 1
    assert "refused for good (kept as dead)" in caplog.text


async def test_a_timeout_on_a_slow_backend_is_queued_and_the_replay_stores_nothing_twice(
    backend: RunningBackend, sender_id: str, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    slow = TcpRelay(_port(backend.url), reply_delay=1.5)
    async with slow, BackendClient(slow.url, timeout=0.5, attempts=1, outbox=outbox) as client:
        queued = await client.create_ticket(
            description="exports are empty",
            email="jane@startup.io",
            sender_id=sender_id,
            channel="rest",
            idempotency_key=sender_id,
        )
    assert isinstance(queued, Queued)
    # The backend did store it; only its answer was late.
    assert tickets_of(backend, sender_id)["total"] == 1

    result = await OutboxReplayer(outbox, client_factory=lambda: BackendClient(backend.url)).replay_pending()

    assert result.delivered == 1
    assert tickets_of(backend, sender_id)["total"] == 1


async def test_an_outbox_that_cannot_write_is_an_honest_failure(
    backend_down: str, sender_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("ACTIONS_OUTBOX_PATH", str(blocked / "outbox.db"))
    with pytest.raises(WriteNotQueued):
        async with BackendClient(attempts=1) as client:
            await client.create_feedback(score=3, idempotency_key="k")

    events, _ = await run_action(ActionCreateTicket(), filled_ticket_form_tracker(sender_id))

    slots = slot_values(events)
    assert slots["ticket_outcome"] == "unavailable"
    (told,) = render_response("utter_ticket_not_saved", slots)
    assert "couldn't confirm" in told and "NOT saved" not in told
