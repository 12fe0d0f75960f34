"""POST/GET/PATCH /api/tickets: creation, idempotency, lists, the status workflow."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from cs_backend.api.types import IDEMPOTENCY_KEY_PATTERN
from cs_backend.app_keys import DATABASE
from cs_backend.tickets.models import Ticket

from .helpers import assert_error, complete, page_ids, ticket_payload

TICKET_FIELDS = {
    "id",
    "subject",
    "description",
    "priority",
    "status",
    "email",
    "customer_id",
    "conversation_id",
    "channel",
    "created_at",
    "updated_at",
}


async def create(client: TestClient[Any, Any], **fields: Any) -> dict[str, Any]:
    headers = {"Idempotency-Key": fields.pop("key")} if "key" in fields else None
    response = await client.post("/api/tickets", json=ticket_payload(**fields), headers=headers)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_create_with_defaults(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/api/tickets",
        json={
            "description": "  The app crashes on login.\nSteps: open it, log in.  ",
            "email": "Ada@Example.com",
        },
    )
    assert response.status == 201
    ticket = await response.json()
    assert set(ticket) == TICKET_FIELDS
    assert ticket["description"] == "The app crashes on login.\nSteps: open it, log in."
    assert ticket["subject"] == "The app crashes on login."
    assert ticket["priority"] == "normal"
    assert ticket["status"] == "open"
    assert ticket["email"] == "ada@example.com"
    assert ticket["channel"] == "api"
    assert ticket["conversation_id"] is None
    assert ticket["created_at"] == ticket["updated_at"]
    assert datetime.fromisoformat(ticket["created_at"]).utcoffset() == timedelta(0)

    customer = await (await client.get(f"/api/customers/{ticket['customer_id']}")).json()
    assert customer["email"] == "ada@example.com"

    fetched = await client.get(f"/api/tickets/{ticket['id']}")
    assert fetched.status == 200
    assert await fetched.json() == ticket


async def test_default_subject_is_the_first_line_cut_to_120_characters(client: TestClient[Any, Any]) -> None:
    ticket = await create(client, description="x" * 150 + "\nsecond line")
    assert ticket["subject"] == "x" * 120


async def test_create_with_every_field_links_customer_and_conversation(client: TestClient[Any, Any]) -> None:
    ticket = await create(
        client,
        subject="Refund",
        priority="urgent",
        sender_id="rasa-42",
        channel="socketio",
        email="b@example.org",
    )
    assert (ticket["subject"], ticket["priority"], ticket["channel"]) == ("Refund", "urgent", "socketio")
    conversation = await (await client.get(f"/api/conversations/{ticket['conversation_id']}")).json()
    assert (conversation["sender_id"], conversation["channel"]) == ("rasa-42", "socketio")
    # The typed email is where the team answers, not who is chatting: the conversation gets no customer.
    assert conversation["customer_id"] is None

    # A second ticket from the same conversation and email reuses both.
    second = await create(client, sender_id="rasa-42", channel="socketio", email="B@example.org")
    assert second["conversation_id"] == ticket["conversation_id"]
    assert second["customer_id"] == ticket["customer_id"]


async def test_a_typed_email_does_not_move_the_conversation_to_that_customer(
    client: TestClient[Any, Any],
) -> None:
    """Someone who types another customer's email to open a ticket gets neither that customer's onboarding
    progress nor writes onboarding steps or churn signals on their profile."""
    victim = await create(client, email="victim@example.org", sender_id="victim-chat", channel="socketio")
    done = await complete(client, "sign_up", customer_id=victim["customer_id"])
    assert done["customer_id"] == victim["customer_id"]
    intruder = {"sender_id": "intruder-chat", "channel": "socketio"}
    await complete(client, "verify_email", **intruder)  # the conversation's own (anonymous) customer
    own = (await (await client.get("/api/onboarding/progress", params=intruder)).json())["customer_id"]

    ticket = await create(client, email="Victim@example.org", **intruder)
    assert ticket["customer_id"] == victim["customer_id"]  # the ticket is answered at that address
    conversation = await (await client.get(f"/api/conversations/{ticket['conversation_id']}")).json()
    assert conversation["customer_id"] == own != victim["customer_id"]

    progress = await (await client.get("/api/onboarding/progress", params=intruder)).json()
    assert progress["customer_id"] == own
    assert [step["key"] for step in progress["steps"] if step["done"]] == ["verify_email"]
    await complete(client, "complete_profile", **intruder)
    churn = await client.post("/api/churn/signals", json={"kind": "cancel_request", **intruder})
    assert churn.status == 201 and (await churn.json())["customer_id"] == own
    victims = await (
        await client.get("/api/onboarding/progress", params={"customer_id": victim["customer_id"]})
    ).json()
    assert [step["key"] for step in victims["steps"] if step["done"]] == ["sign_up"]


async def test_null_optional_fields_mean_defaults(client: TestClient[Any, Any]) -> None:
    ticket = await create(client, priority=None, subject=None, sender_id=None, channel=None)
    assert (ticket["priority"], ticket["channel"], ticket["conversation_id"]) == ("normal", "api", None)


async def test_idempotency_key_returns_the_first_ticket(client: TestClient[Any, Any], counts: Any) -> None:
    headers = {"Idempotency-Key": "retry-abc-1"}
    first = await client.post("/api/tickets", json=ticket_payload(), headers=headers)
    assert first.status == 201
    again = await client.post("/api/tickets", json=ticket_payload(), headers=headers)
    assert again.status == 200
    assert await again.json() == await first.json()
    # The key reused with another body: refused (tests/backend/test_idempotency.py covers every route).
    changed = await client.post("/api/tickets", json=ticket_payload(description="changed"), headers=headers)
    await assert_error(changed, 422, {"Idempotency-Key"})
    assert (await counts(client))["tickets"] == 1
    other = await client.post(
        "/api/tickets", json=ticket_payload(), headers={"Idempotency-Key": "retry-abc-2"}
    )
    assert other.status == 201
    assert (await counts(client))["tickets"] == 2


async def test_concurrent_retries_with_one_key_create_one_ticket(
    client: TestClient[Any, Any], counts: Any
) -> None:
    """The actions retry on connection errors; retries can overlap the original request."""
    headers = {"Idempotency-Key": "concurrent-key"}
    payload = ticket_payload(email="new.customer@example.com", sender_id="s-9", channel="rest")
    responses = await asyncio.gather(
        *(client.post("/api/tickets", json=payload, headers=headers) for _ in range(8))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] * 7 + [201], statuses
    ids = {(await r.json())["id"] for r in responses}
    assert len(ids) == 1
    assert await counts(client) == {"customers": 1, "conversations": 1, "tickets": 1, "feedback": 0}


async def test_concurrent_tickets_of_a_new_customer_share_it(
    client: TestClient[Any, Any], counts: Any
) -> None:
    payload = ticket_payload(email="fresh@example.com", sender_id="s-10", channel="rest")
    responses = await asyncio.gather(*(client.post("/api/tickets", json=payload) for _ in range(6)))
    assert [r.status for r in responses] == [201] * 6
    assert await counts(client) == {"customers": 1, "conversations": 1, "tickets": 6, "feedback": 0}


BAD_IDEMPOTENCY_KEYS = ["", " ", "k" * 201, "tab\tinside", "caf\u00e9", "nbsp\u00a0inside"]


@pytest.mark.parametrize("key", BAD_IDEMPOTENCY_KEYS)
async def test_bad_idempotency_key_is_400(client: TestClient[Any, Any], counts: Any, key: str) -> None:
    before = await counts(client)
    response = await client.post("/api/tickets", json=ticket_payload(), headers={"Idempotency-Key": key})
    await assert_error(response, 400, {"Idempotency-Key"})
    assert await counts(client) == before


@pytest.mark.parametrize(
    ("key", "valid"), [*((key, False) for key in BAD_IDEMPOTENCY_KEYS), ("k" * 200, True)]
)
def test_the_document_states_the_idempotency_key_rule(key: str, valid: bool) -> None:
    assert (re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key) is not None) == valid


async def test_the_spaces_around_an_idempotency_key_are_not_part_of_it(client: TestClient[Any, Any]) -> None:
    first = await create(client, key="same key")
    again = await client.post(
        "/api/tickets", json=ticket_payload(), headers={"Idempotency-Key": " same key "}
    )
    assert again.status == 200
    assert (await again.json())["id"] == first["id"]


async def test_idempotency_key_of_200_characters_is_fine(client: TestClient[Any, Any]) -> None:
    await create(client, key="k" * 200)


async def test_unknown_ticket_is_404(client: TestClient[Any, Any]) -> None:
    await assert_error(await client.get("/api/tickets/12345"), 404, message="12345")
    await assert_error(await client.get("/api/tickets/0"), 404)
    await assert_error(await client.get("/api/tickets/-1"), 404)
    await assert_error(await client.get("/api/tickets/2147483648"), 404)
    await assert_error(await client.patch("/api/tickets/12345", json={"status": "pending"}), 404)


# ---------------------------------------------------------------------------------------------------------
# Lists


async def test_list_filters_paging_total_and_newest_first(client: TestClient[Any, Any]) -> None:
    a1 = await create(client, email="a@example.com", priority="low", sender_id="sa", channel="rest")
    b1 = await create(client, email="b@example.com", priority="high", sender_id="sb", channel="rest")
    a2 = await create(client, email="a@example.com", priority="high", sender_id="sa", channel="socketio")
    b2 = await create(client, email="b@example.com", priority="urgent")
    a3 = await create(client, email="a@example.com", priority="normal", sender_id="sa", channel="rest")
    await client.patch(f"/api/tickets/{b1['id']}", json={"status": "pending"})
    await client.patch(f"/api/tickets/{a3['id']}", json={"status": "resolved"})

    async def ids(query: str) -> tuple[list[int], int]:
        return await page_ids(client, f"/api/tickets{query}")

    everything = [a3["id"], b2["id"], a2["id"], b1["id"], a1["id"]]
    assert await ids("") == (everything, 5)
    assert await ids("?status=open") == ([b2["id"], a2["id"], a1["id"]], 3)
    assert await ids("?status=pending") == ([b1["id"]], 1)
    assert await ids("?status=closed") == ([], 0)
    assert await ids("?priority=high") == ([a2["id"], b1["id"]], 2)
    assert await ids("?email=A@Example.com") == ([a3["id"], a2["id"], a1["id"]], 3)
    assert await ids("?channel=rest") == ([a3["id"], b1["id"], a1["id"]], 3)
    assert await ids("?sender_id=sa") == ([a3["id"], a2["id"], a1["id"]], 3)
    # "My last ticket": the conversation's newest, on its channel.
    assert await ids("?sender_id=sa&channel=rest&limit=1") == ([a3["id"]], 2)
    assert await ids("?sender_id=sa&channel=socketio") == ([a2["id"]], 1)
    assert await ids("?sender_id=nobody") == ([], 0)
    assert await ids("?email=a@example.com&priority=high&status=open") == ([a2["id"]], 1)
    # Paging: total counts every match, whatever the page.
    assert await ids("?limit=2") == (everything[:2], 5)
    assert await ids("?limit=2&offset=2") == (everything[2:4], 5)
    assert await ids("?limit=2&offset=4") == (everything[4:], 5)
    assert await ids("?offset=10") == ([], 5)
    # Empty values mean "no filter" (form-style query strings).
    assert await ids("?status=&priority=&email=&sender_id=&channel=") == (everything, 5)

    page = await (await client.get("/api/tickets?limit=3&offset=1")).json()
    assert (page["limit"], page["offset"]) == (3, 1)
    default = await (await client.get("/api/tickets")).json()
    assert (default["limit"], default["offset"]) == (20, 0)


async def test_list_breaks_created_at_ties_by_id(client: TestClient[Any, Any]) -> None:
    tickets = [await create(client) for _ in range(3)]
    async with client.app[DATABASE].sessions() as session:
        same_time = datetime.fromisoformat(tickets[0]["created_at"])
        await session.execute(update(Ticket).values(created_at=same_time))
        await session.commit()
    page = await (await client.get("/api/tickets")).json()
    assert [t["id"] for t in page["items"]] == sorted((t["id"] for t in tickets), reverse=True)


async def test_list_default_page_is_20(client: TestClient[Any, Any]) -> None:
    for _ in range(21):
        await create(client)
    page = await (await client.get("/api/tickets")).json()
    assert (len(page["items"]), page["total"]) == (20, 21)
    page = await (await client.get("/api/tickets?limit=100")).json()
    assert len(page["items"]) == 21


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?limit=1.5", "limit"),
        ("?offset=-1", "offset"),
        ("?offset=99999999999999999999", "offset"),
        ("?status=done", "status"),
        ("?priority=critical", "priority"),
        ("?email=nope", "email"),
        ("?channel=" + "c" * 51, "channel"),
        ("?colour=blue", "colour"),
        ("?status=open&status=pending", "status"),
        ("?sender_id=%00", "sender_id"),
    ],
)
async def test_bad_list_parameters_are_400_naming_the_parameter(
    client: TestClient[Any, Any], query: str, field: str
) -> None:
    await assert_error(await client.get(f"/api/tickets{query}"), 400, {field})


# ---------------------------------------------------------------------------------------------------------
# Status workflow

ALLOWED = [
    ("open", "pending"),
    ("open", "resolved"),
    ("pending", "open"),
    ("pending", "resolved"),
    ("resolved", "closed"),
    ("resolved", "open"),
]
STATUSES = ["open", "pending", "resolved", "closed"]
REFUSED = [(a, b) for a in STATUSES for b in STATUSES if (a, b) not in ALLOWED]
# How to bring a new (open) ticket to each status through allowed moves.
PATH_TO = {"open": [], "pending": ["pending"], "resolved": ["resolved"], "closed": ["resolved", "closed"]}


async def ticket_in(client: TestClient[Any, Any], status: str) -> dict[str, Any]:
    ticket = await create(client)
    for step in PATH_TO[status]:
        response = await client.patch(f"/api/tickets/{ticket['id']}", json={"status": step})
        assert response.status == 200, await response.text()
        ticket = await response.json()
    assert ticket["status"] == status
    return ticket


def test_the_refused_table_is_complete() -> None:
    assert len(REFUSED) == 10  # 16 pairs - 6 allowed, including the 4 "same status" pairs
    assert ("closed", "open") in REFUSED and ("open", "closed") in REFUSED


@pytest.mark.parametrize(("current", "target"), ALLOWED)
async def test_allowed_transitions(client: TestClient[Any, Any], current: str, target: str) -> None:
    ticket = await ticket_in(client, current)
    response = await client.patch(f"/api/tickets/{ticket['id']}", json={"status": target})
    assert response.status == 200, await response.text()
    updated = await response.json()
    assert updated["status"] == target
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(ticket["updated_at"])
    assert updated["created_at"] == ticket["created_at"]
    assert (await (await client.get(f"/api/tickets/{ticket['id']}")).json())["status"] == target


@pytest.mark.parametrize(("current", "target"), REFUSED)
async def test_refused_transitions_are_409_naming_both_states(
    client: TestClient[Any, Any], current: str, target: str
) -> None:
    ticket = await ticket_in(client, current)
    response = await client.patch(f"/api/tickets/{ticket['id']}", json={"status": target})
    error = await assert_error(response, 409)
    assert f"'{current}'" in error["message"] and f"'{target}'" in error["message"]
    assert await (await client.get(f"/api/tickets/{ticket['id']}")).json() == ticket  # unchanged


async def test_concurrent_transitions_from_one_status_let_one_win(client: TestClient[Any, Any]) -> None:
    ticket = await create(client)
    responses = await asyncio.gather(
        client.patch(f"/api/tickets/{ticket['id']}", json={"status": "pending"}),
        client.patch(f"/api/tickets/{ticket['id']}", json={"status": "resolved"}),
    )
    statuses = sorted(r.status for r in responses)
    # Either one wins and the other is checked against the new status (pending→resolved is allowed,
    # resolved→pending is not), or both succeed one after the other; never a lost update.
    final = (await (await client.get(f"/api/tickets/{ticket['id']}")).json())["status"]
    if statuses == [200, 200]:
        assert final == "resolved"
    else:
        assert statuses == [200, 409]
        assert final in {"pending", "resolved"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"status"}),
        ({"status": "reopened"}, {"status"}),
        ({"status": None}, {"status"}),
        ({"status": "pending", "priority": "high"}, {"priority"}),
    ],
)
async def test_bad_patch_bodies_are_400(
    client: TestClient[Any, Any], body: dict[str, Any], fields: set[str]
) -> None:
    ticket = await create(client)
    await assert_error(await client.patch(f"/api/tickets/{ticket['id']}", json=body), 400, fields)
    assert (await (await client.get(f"/api/tickets/{ticket['id']}")).json())["status"] == "open"
