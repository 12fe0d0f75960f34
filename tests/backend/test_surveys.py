"""Survey rules (cs_backend/surveys): a resolved ticket's survey delivered through Rasa (fake_rasa.py records
what it gets), one survey per trigger subject, the customer's cooldown, delivery retried by the job and
abandoned after SURVEY_DELIVERY_GIVE_UP_HOURS, one answer per survey (a re-submission updates its rows).

Time is injected into the delivery job (a clock); the cooldown is measured against rows' created_at,
back-dated where a test needs an old survey.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from cs_backend.app_keys import DATABASE, LIVE_EVENTS, RASA_CLIENT, SETTINGS, SURVEY_COURIER
from cs_backend.config import Settings
from cs_backend.db import utcnow
from cs_backend.feedback.models import Feedback
from cs_backend.main import create_app
from cs_backend.surveys.delivery import FIRST_RETRY, SURVEY_INTENT, retry_delay
from cs_backend.surveys.jobs import run_delivery
from cs_backend.surveys.models import Survey

from .fake_rasa import FakeRasa
from .helpers import assert_error
from .webhook_receiver import WEBHOOK_SECRET, WebhookReceiver


def survey_settings(settings: Settings, rasa: FakeRasa, **overrides: Any) -> Settings:
    return dataclasses.replace(settings, rasa_url=rasa.url, rasa_auth_token=rasa.token, **overrides)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, rasa: FakeRasa) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(survey_settings(settings, rasa)))


async def open_ticket(
    client: TestClient[Any, Any], email: str = "ada@example.com", sender_id: str | None = "web-1"
) -> dict[str, Any]:
    body: dict[str, Any] = {"description": "The export fails", "email": email, "channel": "socketio"}
    if sender_id is not None:
        body["sender_id"] = sender_id
    response = await client.post("/api/tickets", json=body)
    assert response.status == 201, await response.text()
    ticket: dict[str, Any] = await response.json()
    return ticket


async def set_status(client: TestClient[Any, Any], ticket_id: int, status: str) -> None:
    response = await client.patch(f"/api/tickets/{ticket_id}", json={"status": status})
    assert response.status == 200, await response.text()
    # The survey goes to Rasa in a task of its own: wait for it.
    await client.app[SURVEY_COURIER].settle()


async def surveys(client: TestClient[Any, Any], query: str = "") -> list[dict[str, Any]]:
    response = await client.get(f"/api/surveys{query}")
    assert response.status == 200, await response.text()
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


async def age_surveys(client: TestClient[Any, Any], hours: float) -> None:
    async with client.app[DATABASE].sessions() as session:
        await session.execute(update(Survey).values(created_at=utcnow() - timedelta(hours=hours)))
        await session.commit()


async def onboarding_customer(client: TestClient[Any, Any], sender_id: str = "web-9") -> int:
    response = await client.post(
        "/api/onboarding/start", json={"sender_id": sender_id, "channel": "socketio"}
    )
    assert response.status == 200, await response.text()
    customer_id: int = (await response.json())["customer_id"]
    return customer_id


async def open_onboarding_survey(
    client: TestClient[Any, Any], customer_id: int, sender_id: str = "web-9", status: int | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/api/surveys",
        json={
            "trigger": "onboarding_completed",
            "subject_id": customer_id,
            "sender_id": sender_id,
            "channel": "socketio",
        },
    )
    if status is not None:
        assert response.status == status, await response.text()
    survey: dict[str, Any] = await response.json()
    return survey


# --- a resolved ticket --------------------------------------------------------------------------------------


async def test_a_resolved_ticket_is_surveyed_once_through_rasa(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    ticket = await open_ticket(client)
    # Opening, or moving to pending, surveys nothing.
    await set_status(client, ticket["id"], "pending")
    assert rasa.requests == [] and await surveys(client) == []

    await set_status(client, ticket["id"], "resolved")
    [survey] = await surveys(client)
    assert survey["trigger"] == "ticket_resolved" and survey["subject_id"] == ticket["id"]
    assert survey["customer_id"] == ticket["customer_id"]
    assert survey["state"] == "sent" and survey["sent_at"] is not None and survey["answered_at"] is None
    [request] = rasa.requests
    assert request["sender_id"] == "web-1"
    assert request["query"]["output_channel"] == "socketio"
    assert request["json"] == {
        "name": SURVEY_INTENT,
        "entities": {
            "survey_id": survey["id"],
            "survey_trigger": "ticket_resolved",
            "survey_subject": ticket["id"],
        },
    }

    # Reopened and resolved again: still one survey for this ticket, nothing sent again.
    await set_status(client, ticket["id"], "open")
    await set_status(client, ticket["id"], "resolved")
    assert len(await surveys(client)) == 1
    assert len(rasa.requests) == 1


async def test_the_survey_goes_to_the_customers_most_recent_conversation(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    ticket = await open_ticket(client, sender_id=None)
    # The customer chats later on another channel: that is where they are asked.
    response = await client.post(
        "/api/conversations", json={"sender_id": "tg-7", "channel": "telegram", "email": "ada@example.com"}
    )
    assert response.status in (200, 201), await response.text()
    await set_status(client, ticket["id"], "resolved")
    [request] = rasa.requests
    assert (request["sender_id"], request["query"]["output_channel"]) == ("tg-7", "telegram")


async def test_a_customer_without_a_conversation_is_not_asked(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    ticket = await open_ticket(client, sender_id=None)
    await set_status(client, ticket["id"], "resolved")
    [survey] = await surveys(client)
    assert survey["state"] == "abandoned" and survey["last_error"]
    assert rasa.requests == []


# --- cooldown -----------------------------------------------------------------------------------------------


async def test_a_trigger_within_the_cooldown_sends_nothing(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    first = await open_ticket(client)
    second = await open_ticket(client)
    await set_status(client, first["id"], "resolved")
    await set_status(client, second["id"], "resolved")
    by_subject = {survey["subject_id"]: survey for survey in await surveys(client)}
    assert by_subject[first["id"]]["state"] == "sent"
    assert by_subject[second["id"]]["state"] == "suppressed"
    assert len(rasa.requests) == 1
    # Another customer is not cooled down by Ada's survey.
    other = await open_ticket(client, email="bob@example.com", sender_id="web-2")
    await set_status(client, other["id"], "resolved")
    assert len(rasa.requests) == 2

    # Once the cooldown (72 h by default) is over, the next trigger asks again; a suppressed survey never
    # counted.
    await age_surveys(client, hours=73)
    third = await open_ticket(client)
    await set_status(client, third["id"], "resolved")
    assert len(rasa.requests) == 3
    # A bot-opened survey within the cooldown is suppressed too: the bot is told not to ask.
    customer = third["customer_id"]
    survey = await open_onboarding_survey(client, customer, sender_id="web-1", status=201)
    assert (survey["state"], survey["ask"]) == ("suppressed", False)
    await assert_error(
        await client.post(f"/api/surveys/{survey['id']}/answers", json={"csat": 4}),
        409,
        message="never asked",
    )


async def test_cooldown_zero_disables_it(aiohttp_client: Any, settings: Settings, rasa: FakeRasa) -> None:
    client = await aiohttp_client(create_app(survey_settings(settings, rasa, survey_cooldown_hours=0)))
    for _ in range(2):
        ticket = await open_ticket(client)
        await set_status(client, ticket["id"], "resolved")
    assert [survey["state"] for survey in await surveys(client)] == ["sent", "sent"]
    assert len(rasa.requests) == 2


# --- delivery retried, then abandoned -----------------------------------------------------------------------


async def test_an_undelivered_survey_is_retried_by_the_job_then_abandoned(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    rasa.status = 503
    ticket = await open_ticket(client)
    await set_status(client, ticket["id"], "resolved")  # Rasa refuses: the survey waits
    [survey] = await surveys(client)
    assert survey["state"] == "pending" and survey["delivery_attempts"] == 1
    assert "503" in survey["last_error"]

    db, rasa_client, settings = client.app[DATABASE], client.app[RASA_CLIENT], client.app[SETTINGS]
    now = utcnow()
    # Not yet its turn: nothing is sent.
    run = await run_delivery(db, rasa_client, settings, clock=lambda: now)
    assert (run.sent, run.failed) == (0, 0) and len(rasa.requests) == 1
    # Its turn, Rasa still down: a second failure, the wait doubles.
    later = now + FIRST_RETRY + timedelta(seconds=1)
    run = await run_delivery(db, rasa_client, settings, clock=lambda: later)
    assert run.failed == 1 and len(rasa.requests) == 2
    [survey] = await surveys(client)
    assert survey["delivery_attempts"] == 2
    # Rasa is back: delivered once, and never again.
    rasa.status = 200
    after = later + retry_delay(2) + timedelta(seconds=1)
    run = await run_delivery(db, rasa_client, settings, clock=lambda: after)
    assert run.sent == 1 and len(rasa.requests) == 3
    assert (await run_delivery(db, rasa_client, settings, clock=lambda: after + timedelta(hours=2))).sent == 0
    [survey] = await surveys(client)
    assert survey["state"] == "sent" and survey["last_error"] is None

    # A survey Rasa never takes is abandoned after SURVEY_DELIVERY_GIVE_UP_HOURS (24 h by default).
    rasa.status = 503
    second = await open_ticket(client, email="bob@example.com", sender_id="web-2")
    await set_status(client, second["id"], "resolved")
    sent_before = len(rasa.requests)
    too_late = utcnow() + timedelta(hours=24, minutes=1)
    run = await run_delivery(db, rasa_client, settings, clock=lambda: too_late)
    assert run.abandoned == 1 and len(rasa.requests) == sent_before
    [abandoned] = await surveys(client, "?state=abandoned")
    assert abandoned["subject_id"] == second["id"]


def test_retry_delays_double_up_to_an_hour() -> None:
    assert [retry_delay(n) for n in (1, 2, 3)] == [FIRST_RETRY, 2 * FIRST_RETRY, 4 * FIRST_RETRY]
    assert retry_delay(30) == timedelta(hours=1)


# --- answers ------------------------------------------------------------------------------------------------


async def feedback_rows(client: TestClient[Any, Any], survey_id: int) -> list[tuple[str, int, str | None]]:
    async with client.app[DATABASE].sessions() as session:
        rows = await session.execute(
            select(Feedback.kind, Feedback.score, Feedback.comment)
            .where(Feedback.survey_id == survey_id)
            .order_by(Feedback.kind)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_one_answer_per_survey_a_resubmission_updates_it(client: TestClient[Any, Any]) -> None:
    customer = await onboarding_customer(client)
    survey = await open_onboarding_survey(client, customer, status=201)
    assert (survey["state"], survey["ask"]) == ("sent", True)
    # Opened again (the bot asked twice): the same survey.
    again = await open_onboarding_survey(client, customer, status=200)
    assert again["id"] == survey["id"]

    answer_url = f"/api/surveys/{survey['id']}/answers"
    response = await client.post(answer_url, json={"csat": 4})
    assert response.status == 200, await response.text()
    answered = await response.json()
    assert (answered["state"], answered["csat"], answered["ces"], answered["ask"]) == (
        "answered",
        4,
        None,
        False,
    )
    first_answered_at = answered["answered_at"]

    response = await client.post(answer_url, json={"csat": 5, "ces": 6})
    answered = await response.json()
    assert (answered["csat"], answered["ces"], answered["answered_at"]) == (5, 6, first_answered_at)
    assert await feedback_rows(client, survey["id"]) == [("ces", 6, None), ("csat", 5, None)]
    async with client.app[DATABASE].sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Feedback)) == 2
    # The ratings are feedback like any other (about onboarding, in the survey's conversation).
    listed = (await (await client.get("/api/feedback")).json())["items"]
    assert {(item["kind"], item["score"], item["intent"], item["channel"]) for item in listed} == {
        ("csat", 5, "onboarding", "socketio"),
        ("ces", 6, "onboarding", "socketio"),
    }
    # Answered: opening it again tells the bot not to ask.
    assert (await open_onboarding_survey(client, customer, status=200))["ask"] is False


async def test_bad_survey_requests_change_nothing(client: TestClient[Any, Any]) -> None:
    customer = await onboarding_customer(client)
    await assert_error(
        await client.post(
            "/api/surveys",
            json={"trigger": "handoff_ended", "subject_id": 999, "sender_id": "web-9", "channel": "socketio"},
        ),
        404,
        {"subject_id"},
    )
    await assert_error(await open_onboarding_survey_response(client, 12345), 404, {"subject_id"})
    # Only the backend opens the survey of a resolved ticket.
    await assert_error(
        await client.post(
            "/api/surveys",
            json={"trigger": "ticket_resolved", "subject_id": 1, "sender_id": "web-9", "channel": "socketio"},
        ),
        400,
        {"trigger"},
    )
    assert await surveys(client) == []

    survey = await open_onboarding_survey(client, customer, status=201)
    answer_url = f"/api/surveys/{survey['id']}/answers"
    await assert_error(await client.post(answer_url, json={}), 400)
    await assert_error(await client.post(answer_url, json={"csat": 6}), 400, {"csat"})
    await assert_error(await client.post(answer_url, json={"ces": 0}), 400, {"ces"})
    await assert_error(await client.post(answer_url, json={"csat": "4"}), 400, {"csat"})
    await assert_error(await client.post("/api/surveys/424242/answers", json={"csat": 4}), 404)
    assert await feedback_rows(client, survey["id"]) == []
    assert (await client.get(f"/api/surveys/{survey['id']}")).status == 200
    await assert_error(await client.get("/api/surveys/424242"), 404)


async def open_onboarding_survey_response(client: TestClient[Any, Any], customer_id: int) -> Any:
    return await client.post(
        "/api/surveys",
        json={
            "trigger": "onboarding_completed",
            "subject_id": customer_id,
            "sender_id": "web-9",
            "channel": "socketio",
        },
    )


# --- a low score with a comment: a person follows up -----------------------------------------------------


@pytest.fixture
async def receiver(aiohttp_server: Any) -> tuple[WebhookReceiver, TestServer]:
    hook = WebhookReceiver()
    return hook, await aiohttp_server(hook.app())


async def test_a_low_score_with_a_comment_opens_a_task_and_raises_an_alert(
    aiohttp_client: Any, settings: Settings, rasa: FakeRasa, receiver: tuple[WebhookReceiver, TestServer]
) -> None:
    hook, server = receiver
    app_settings = survey_settings(
        settings,
        rasa,
        alert_webhook_url=str(server.make_url("/hook")),
        alert_webhook_secret=WEBHOOK_SECRET,
        alert_delivery_interval_seconds=0.05,
    )
    client = await aiohttp_client(create_app(app_settings))
    ticket = await open_ticket(client)
    await set_status(client, ticket["id"], "resolved")
    [survey] = await surveys(client)
    answer_url = f"/api/surveys/{survey['id']}/answers"

    # A comment on a good score, or a low score without a comment, raises nothing.
    good = await open_onboarding_survey(client, await onboarding_customer(client), status=201)
    answered = await (
        await client.post(f"/api/surveys/{good['id']}/answers", json={"ces": 6, "comment": "smooth"})
    ).json()
    assert answered["follow_up_task_id"] is None and answered["comment"] == "smooth"
    answered = await (await client.post(answer_url, json={"csat": 2})).json()
    assert answered["follow_up_task_id"] is None
    assert await tasks(client) == []

    async with client.app[LIVE_EVENTS].subscribe() as events:
        response = await client.post(answer_url, json={"comment": "Nobody told me the export limit"})
        assert response.status == 200, await response.text()
        raised = await next_event(events, "alert.raised")
    answered = await response.json()
    [task] = await tasks(client)
    assert answered["follow_up_task_id"] == task["id"]
    assert (task["kind"], task["customer_id"], task["status"]) == (
        "negative_feedback",
        ticket["customer_id"],
        "open",
    )
    assert f"ticket #{ticket['id']}" in task["title"] and "CSAT 2/5" in task["title"]
    assert "Nobody told me the export limit" in task["detail"]
    assert raised["id"] == task["id"]
    # The comment is on the survey's ratings too.
    assert await feedback_rows(client, survey["id"]) == [("csat", 2, "Nobody told me the export limit")]
    # The signed webhook reached the receiver.
    await hook.wait_for(1)
    (received,) = hook.received
    assert received.signature_valid and received.body["alert"]["id"] == task["id"]

    # Answering again (a low CES, another comment) updates the survey, with no second task.
    answered = await (await client.post(answer_url, json={"ces": 2, "comment": "Still slow"})).json()
    assert (answered["csat"], answered["ces"], answered["follow_up_task_id"]) == (2, 2, task["id"])
    assert len(await tasks(client)) == 1


async def tasks(client: TestClient[Any, Any]) -> list[dict[str, Any]]:
    response = await client.get("/api/tasks?kind=negative_feedback")
    assert response.status == 200, await response.text()
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


async def next_event(events: Any, event_type: str) -> dict[str, Any]:
    """The payload of the next live event of this type (others, such as survey.answered, are passed over)."""
    while True:
        event = await events.next(timeout=5)
        assert event is not None, f"no {event_type} event"
        if event.type == event_type:
            payload: dict[str, Any] = event.payload
            return payload
