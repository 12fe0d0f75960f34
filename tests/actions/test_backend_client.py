"""The backend client (actions/api/client.py): typed errors, timeouts, retries (connection errors, timeouts,
429/502/503/504 with Retry-After), unconfirmed writes queued, X-Request-ID,
the Idempotency-Key header and strict decoding; against a real running cs_backend (see conftest.py), or a fake
one (action_test_support.FakeBackend) for what the real one cannot be made to do."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from action_test_support import CHECKLIST_KEYS, Answer, FakeBackend, always
from aiohttp import web
from conftest import RunningBackend

from actions.api.client import (
    ATTEMPT_TIMEOUT_SECONDS,
    REQUEST_BUDGET_SECONDS,
    BackendClient,
    Queued,
)
from actions.api.errors import BackendContractError, BackendError, BackendUnavailable
from actions.api.models import OnboardingProgress, Ticket
from actions.api.outbox import Outbox
from actions.api.request_context import bind
from tests.support import REPO_ROOT

# Answers as the contract has them (tests/actions/test_backend_contract.py checks the models against it).
TICKET: dict[str, Any] = {
    "id": 7,
    "subject": "Exports are empty",
    "description": "Exports are empty since Monday",
    "priority": "high",
    "status": "open",
    "email": "jane@startup.io",
    "customer_id": 3,
    "conversation_id": None,
    "channel": "rest",
    "created_at": "2026-11-22T07:30:12.345000Z",
    "updated_at": "2026-11-22T07:30:12.345000Z",
}
STEP = {
    "key": "sign_up",
    "title": "Sign up",
    "how_to": "Go to /signup.",
    "docs_url": "https://x",
    "position": 1,
}
PROGRESS: dict[str, Any] = {
    "customer_id": 3,
    "steps": [{"key": "sign_up", "title": "Sign up", "done": False, "completed_at": None, "source": None}],
    "done_count": 0,
    "total": 1,
    "next_step": STEP,
    "completed": False,
}
FEEDBACK: dict[str, Any] = {
    "id": 5,
    "kind": "csat",
    "score": 4,
    "comment": None,
    "ticket_id": 7,
    "conversation_id": 2,
    "channel": "rest",
    "intent": "report_problem",
    "resolver": "bot",
    "created_at": "2026-11-22T07:30:12.345000Z",
}
CHURN_SIGNAL: dict[str, Any] = {
    "id": 9,
    "customer_id": 3,
    "kind": "cancel_request",
    "reason": None,
    "outcome": "cancelling",
}


def always_with_retry_after(body: Any, retry_after: str, status: int = 503) -> Answer:
    async def answer(number: int, request: web.Request) -> web.StreamResponse:
        return web.json_response(body, status=status, headers={"Retry-After": retry_after})

    return answer


def _client(fake: FakeBackend, *, timeout: float = 2.0, attempts: int = 3) -> BackendClient:
    return BackendClient(fake.url, timeout=timeout, attempts=attempts, backoff=0.01)


# --- against the real backend -------------------------------------------------------------------------------


async def test_client_raises_a_typed_error_for_4xx(backend: RunningBackend, backend_url: str) -> None:
    async with BackendClient() as client:
        with pytest.raises(BackendError) as refused:
            await client.create_ticket(description="the app keeps crashing", email="not-an-email")
        with pytest.raises(BackendError) as missing:
            await client.get_ticket(987654321)
    assert refused.value.status == 400 and refused.value.is_refusal
    assert "email" in refused.value.fields
    assert not isinstance(refused.value, BackendUnavailable)
    assert missing.value.status == 404 and missing.value.is_not_found
    assert "not found" in missing.value.message


async def test_client_raises_a_typed_error_when_unreachable(backend_down: str) -> None:
    async with BackendClient(attempts=2, backoff=0.01) as client:
        with pytest.raises(BackendUnavailable) as error:
            await client.get_ticket(1)
    assert error.value.status == 0
    assert error.value.message


async def test_client_reads_the_checklist_and_progress_and_starts_onboarding(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    async with BackendClient() as client:
        steps = await client.onboarding_steps()
        progress = await client.onboarding_progress(sender_id, "rest")
        started = await client.start_onboarding(sender_id, "rest")
        again = await client.start_onboarding(sender_id, "rest")
        after = await client.complete_onboarding_step("verify_email", sender_id, "rest")
    assert [step.key for step in steps] == CHECKLIST_KEYS
    assert [step.position for step in steps] == [1, 2, 3, 4, 5, 6]
    assert all(step.how_to and step.docs_url.startswith("https://") for step in steps)
    assert isinstance(progress, OnboardingProgress)
    assert (progress.done_count, progress.total, progress.completed) == (0, 6, False)
    assert progress.next_step is not None and progress.next_step.key == "sign_up"
    assert after.is_done("verify_email") and after.step("verify_email").source == "customer"
    assert after.step("verify_email").completed_at
    # Reading created nothing; starting gave the conversation its customer, once.
    assert progress.customer_id is None
    assert isinstance(started.customer_id, int) and again == started
    assert started.steps == progress.steps and started.next_step == progress.next_step
    assert after.customer_id == started.customer_id


# --- timeouts and retries -----------------------------------------------------------------------------------


async def test_an_answer_later_than_the_timeout_is_tried_again_then_unavailable() -> None:
    async def late(number: int, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.5)
        return web.json_response(TICKET)

    async with FakeBackend(late) as fake, _client(fake, timeout=0.1, attempts=2) as client:
        with pytest.raises(BackendUnavailable) as error:
            await client.get_ticket(7)
    assert len(fake.received) == 2
    assert "Timeout" in error.value.message and error.value.status == 0


async def test_a_dropped_connection_is_tried_again() -> None:
    async def drop_the_first(number: int, request: web.Request) -> web.StreamResponse:
        if number == 1 and request.transport is not None:
            request.transport.close()  # the client sees the server disconnect without an answer
        return web.json_response(TICKET)

    async with FakeBackend(drop_the_first) as fake, _client(fake) as client:
        ticket = await client.get_ticket(7)
    assert ticket.id == 7
    assert len(fake.received) == 2


@pytest.mark.parametrize("status", [400, 404, 409, 500])
async def test_an_error_answer_is_final_and_never_tried_again(status: int) -> None:
    body = {"error": {"status": status, "message": "refused", "fields": {"email": "not an email"}}}
    async with FakeBackend(always(body, status)) as fake, _client(fake) as client:
        with pytest.raises(BackendError) as error:
            await client.create_ticket(description="the exports are empty", email="jane@startup.io")
    assert type(error.value) is BackendError
    assert (error.value.status, error.value.message, error.value.fields) == (
        status,
        "refused",
        {"email": "not an email"},
    )
    assert len(fake.received) == 1


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_an_answer_saying_try_later_is_tried_again_then_raised(status: int) -> None:
    body = {"error": {"status": status, "message": "busy", "fields": {}}}
    async with FakeBackend(always(body, status)) as fake, _client(fake) as client:
        with pytest.raises(BackendError) as error:
            await client.get_ticket(7)
    assert (type(error.value), error.value.status) == (BackendError, status)
    assert len(fake.received) == 3


async def test_retry_after_is_honoured_within_the_budget() -> None:
    async def busy_once(number: int, request: web.Request) -> web.StreamResponse:
        if number == 1:
            error = {"error": {"status": 503, "message": "busy", "fields": {}}}
            return web.json_response(error, status=503, headers={"Retry-After": "1"})
        return web.json_response(TICKET)

    async with FakeBackend(busy_once) as fake, _client(fake) as client:
        started = time.monotonic()
        assert (await client.get_ticket(7)).id == 7
        waited = time.monotonic() - started
    assert len(fake.received) == 2 and 1.0 <= waited < 2.0
    # A Retry-After beyond what is left of the budget is not waited for: the answer is final at once.
    async with FakeBackend(busy_once) as fake, BackendClient(fake.url, timeout=1.0, budget=1.5) as client:
        with pytest.raises(BackendError) as error:
            await client.get_ticket(7)
    assert error.value.status == 503 and len(fake.received) == 1


async def test_a_long_retry_after_ends_the_request_at_once() -> None:
    """cs_backend's database down says Retry-After 5: the customer does not wait for it (a write is kept
    for the replayer, which does)."""
    body = {"error": {"status": 503, "message": "the database is unavailable", "fields": {}}}
    async with FakeBackend(always_with_retry_after(body, "5")) as fake, _client(fake) as client:
        started = time.monotonic()
        with pytest.raises(BackendError) as error:
            await client.get_ticket(7)
    assert error.value.status == 503 and len(fake.received) == 1
    assert time.monotonic() - started < 1.0


async def test_a_write_with_a_key_that_is_not_confirmed_is_queued_not_raised(outbox_path: Path) -> None:
    body = {"error": {"status": 500, "message": "bug", "fields": {}}}
    async with FakeBackend(always(body, 500)) as fake, _client(fake) as client:
        queued = await client.create_ticket(description="d", email="e@x.io", idempotency_key="key-1")
        refused_body = {"error": {"status": 400, "message": "bad", "fields": {"email": "not an email"}}}
    assert isinstance(queued, Queued) and queued.idempotency_key == "key-1"
    (entry,) = await Outbox(outbox_path).pending()
    assert (entry.method, entry.path, json.loads(entry.body)) == (
        "POST",
        "/api/tickets",
        {"description": "d", "email": "e@x.io"},
    )
    async with FakeBackend(always(refused_body, 400)) as fake, _client(fake) as client:
        with pytest.raises(BackendError) as error:
            await client.create_ticket(description="d", email="e@x.io", idempotency_key="key-2")
    assert error.value.is_refusal and len(await Outbox(outbox_path).pending()) == 1


async def test_a_survey_answer_not_confirmed_is_queued_like_any_write(outbox_path: Path) -> None:
    body = {"error": {"status": 503, "message": "the database is unavailable", "fields": {}}}
    async with FakeBackend(always(body, 503)) as fake, _client(fake) as client:
        queued = await client.answer_survey(12, csat=2, ces=5, idempotency_key="survey-key")
    assert isinstance(queued, Queued) and queued.idempotency_key == "survey-key"
    (entry,) = await Outbox(outbox_path).pending()
    assert (entry.path, json.loads(entry.body)) == ("/api/surveys/12/answers", {"csat": 2, "ces": 5})


async def test_every_request_carries_the_calls_request_id() -> None:
    async with FakeBackend(always(TICKET)) as fake:
        bind("msg-1234abcd", "sender-1")
        async with _client(fake) as client:
            await client.get_ticket(7)
            await client.get_ticket(7)
        bind("not a valid id!", "sender-1")  # replaced by a new one
        async with _client(fake) as client:
            await client.get_ticket(7)
    ids = [request.headers["X-Request-ID"] for request in fake.received]
    assert ids[:2] == ["msg-1234abcd", "msg-1234abcd"]
    assert len(ids[2]) == 32 and ids[2] != "msg-1234abcd"


def test_the_clients_attempt_outlasts_the_backends_longest_wait_for_its_database() -> None:
    """docs/API_CONTRACT.md "Timeouts": cs_backend waits at most its SQLite busy timeout, or a pooled
    PostgreSQL connection and then a new one, before a 503; the client waits longer for each attempt."""
    tree = ast.parse((REPO_ROOT / "cs_backend" / "db.py").read_text())
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.endswith("_SECONDS")
    }
    longest_wait = max(
        constants["SQLITE_BUSY_TIMEOUT_SECONDS"],
        constants["POOL_TIMEOUT_SECONDS"] + constants["CONNECT_TIMEOUT_SECONDS"],
    )
    assert longest_wait < ATTEMPT_TIMEOUT_SECONDS
    assert REQUEST_BUDGET_SECONDS >= ATTEMPT_TIMEOUT_SECONDS


async def test_an_error_answer_without_the_contracts_body_keeps_its_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def proxy_page(number: int, request: web.Request) -> web.StreamResponse:
        return web.Response(status=502, text="<html>Bad gateway</html>", content_type="text/html")

    async with FakeBackend(proxy_page) as fake, _client(fake) as client:
        with pytest.raises(BackendError) as error:
            await client.get_ticket(7)
    assert type(error.value) is BackendError
    assert (error.value.status, error.value.message, error.value.fields) == (502, "HTTP 502", {})
    assert len(fake.received) == 3  # a 502 is tried again
    assert "without the contract's error body" in caplog.text


# --- the Idempotency-Key header -----------------------------------------------------------------------------

Call = Callable[[BackendClient], Awaitable[Any]]
WRITES: list[tuple[str, dict[str, Any], Call]] = [
    (
        "create_ticket",
        TICKET,
        lambda client: client.create_ticket(description="d", email="e@x.io", idempotency_key="key-1"),
    ),
    ("create_feedback", FEEDBACK, lambda client: client.create_feedback(score=4, idempotency_key="key-1")),
    (
        "complete_onboarding_step",
        PROGRESS,
        lambda client: client.complete_onboarding_step("sign_up", "s", "rest", idempotency_key="key-1"),
    ),
    (
        "record_churn_signal",
        CHURN_SIGNAL,
        lambda client: client.record_churn_signal("cancel_request", "s", "rest", idempotency_key="key-1"),
    ),
]


@pytest.mark.parametrize(("name", "answer", "write"), WRITES, ids=[name for name, _, _ in WRITES])
async def test_every_write_sends_its_idempotency_key(name: str, answer: dict[str, Any], write: Call) -> None:
    async with FakeBackend(always(answer, 201)) as fake, _client(fake) as client:
        await write(client)
    (request,) = fake.received
    assert request.method == "POST"
    assert request.headers["Idempotency-Key"] == "key-1"


async def test_no_idempotency_key_no_header() -> None:
    async with FakeBackend(always(TICKET)) as fake, _client(fake) as client:
        await client.get_ticket(7)
        await client.create_ticket(description="d", email="e@x.io")
    assert all("Idempotency-Key" not in request.headers for request in fake.received)


# --- strict decoding ----------------------------------------------------------------------------------------


async def test_a_valid_answer_is_decoded_and_fields_it_adds_are_ignored() -> None:
    async with FakeBackend(always({**TICKET, "assignee": "sam"})) as fake, _client(fake) as client:
        ticket = await client.get_ticket(7)
    assert ticket == Ticket.parse_obj(TICKET)
    assert (ticket.id, ticket.status, ticket.conversation_id) == (7, "open", None)
    with pytest.raises(TypeError):
        ticket.status = "closed"  # type: ignore[misc]  # assigning is the point: the models are immutable


def _without(field: str) -> dict[str, Any]:
    return {name: value for name, value in TICKET.items() if name != field}


@pytest.mark.parametrize(
    ("answer", "broken"),
    [
        (_without("subject"), "subject: field required"),
        (_without("conversation_id"), "conversation_id: field required"),  # may be null, but must be there
        ({**TICKET, "id": "7"}, "id: value is not a valid integer"),
        ({**TICKET, "id": 7.0}, "id: value is not a valid integer"),
        ({**TICKET, "customer_id": None}, "customer_id: none is not an allowed value"),
        ({**TICKET, "subject": None}, "subject: none is not an allowed value"),
        ({**TICKET, "status": "escalated"}, "status: unexpected value"),
        ({**TICKET, "priority": 3}, "priority: unexpected value"),
        ([TICKET], "__root__: Ticket expected dict not list"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_an_answer_that_breaks_the_contract_raises_and_is_logged(
    answer: Any, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="actions.api.client")
    async with FakeBackend(always(answer)) as fake, _client(fake) as client:
        with pytest.raises(BackendContractError) as error:
            await client.get_ticket(7)
    assert any(problem.startswith(broken) for problem in error.value.problems), error.value.problems
    assert error.value.status == 200 and not error.value.is_refusal
    assert len(fake.received) == 1  # an answer came: nothing to try again
    (record,) = caplog.records
    assert "broke its contract" in record.getMessage() and broken in record.getMessage()


async def test_a_body_that_is_not_json_breaks_the_contract() -> None:
    async def text(number: int, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    async with FakeBackend(text) as fake, _client(fake) as client:
        with pytest.raises(BackendContractError):
            await client.get_ticket(7)


async def test_a_broken_item_of_a_page_is_named() -> None:
    page = {"items": [TICKET, _without("status")], "total": 2, "limit": 20, "offset": 0}
    async with FakeBackend(always(page)) as fake, _client(fake) as client:
        with pytest.raises(BackendContractError) as error:
            await client.list_tickets(sender_id="s")
    assert error.value.problems == ("items.1.status: field required",)


async def test_a_nullable_field_may_be_null_but_not_absent() -> None:
    async with FakeBackend(always({**PROGRESS, "next_step": None})) as fake, _client(fake) as client:
        progress = await client.onboarding_progress("s", "rest")
    assert progress.next_step is None
    # A conversation whose onboarding has not started has no customer yet.
    async with FakeBackend(always({**PROGRESS, "customer_id": None})) as fake, _client(fake) as client:
        assert (await client.onboarding_progress("s", "rest")).customer_id is None
    missing = {name: value for name, value in PROGRESS.items() if name != "next_step"}
    async with FakeBackend(always(missing)) as fake, _client(fake) as client:
        with pytest.raises(BackendContractError) as error:
            await client.onboarding_progress("s", "rest")
    assert error.value.problems == ("next_step: field required",)
