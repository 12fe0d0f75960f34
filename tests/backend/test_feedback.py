"""POST/GET /api/feedback: CSAT 1-5, CES 1-7, ticket links, idempotency, lists."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from .helpers import assert_error, page_ids, ticket_payload

FEEDBACK_FIELDS = {
    "id",
    "kind",
    "score",
    "comment",
    "ticket_id",
    "conversation_id",
    "channel",
    "intent",
    "resolver",
    "agent_id",
    "handoff_id",
    "created_at",
}


async def rate(client: TestClient[Any, Any], status: int = 201, **body: Any) -> dict[str, Any]:
    headers = {"Idempotency-Key": body.pop("key")} if "key" in body else None
    response = await client.post("/api/feedback", json=body, headers=headers)
    assert response.status == status, await response.text()
    return await response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(("kind", "score"), [("csat", 1), ("csat", 5), ("ces", 1), ("ces", 7)])
async def test_scores_at_the_boundaries_are_accepted(
    client: TestClient[Any, Any], kind: str, score: int
) -> None:
    feedback = await rate(client, kind=kind, score=score)
    assert set(feedback) == FEEDBACK_FIELDS
    assert (feedback["kind"], feedback["score"]) == (kind, score)
    assert (feedback["resolver"], feedback["channel"], feedback["comment"]) == ("bot", "api", None)


@pytest.mark.parametrize(
    ("kind", "score"),
    [
        ("csat", 0),
        ("csat", 6),
        ("ces", 0),
        ("ces", 8),
        ("csat", -1),
        ("ces", 100),
        ("csat", 4.5),
        ("csat", "5"),
        ("csat", True),
        ("csat", None),
    ],
)
async def test_scores_outside_the_scale_are_refused_naming_score(
    client: TestClient[Any, Any], counts: Any, kind: str, score: Any
) -> None:
    error = await assert_error(
        await client.post("/api/feedback", json={"kind": kind, "score": score}), 400, {"score"}
    )
    if isinstance(score, int) and not isinstance(score, bool):
        assert error["fields"]["score"] == f"{kind} score must be between 1 and {5 if kind == 'csat' else 7}"
    assert (await counts(client))["feedback"] == 0


async def test_every_field_and_the_ticket_link(client: TestClient[Any, Any]) -> None:
    ticket = await (
        await client.post("/api/tickets", json=ticket_payload(sender_id="s-7", channel="rest"))
    ).json()
    feedback = await rate(
        client,
        kind="csat",
        score=4,
        comment="  Quick answer, thanks  ",
        ticket_id=ticket["id"],
        intent="order_status",
        resolver="agent",
    )
    assert feedback["comment"] == "Quick answer, thanks"
    assert feedback["ticket_id"] == ticket["id"]
    # Without sender_id, a rating about a ticket belongs to the ticket's conversation.
    assert feedback["conversation_id"] == ticket["conversation_id"]
    assert (feedback["intent"], feedback["resolver"]) == ("order_status", "agent")

    with_sender = await rate(client, kind="ces", score=2, sender_id="s-8", channel="socketio", comment="")
    assert with_sender["comment"] is None
    conversation = await (await client.get(f"/api/conversations/{with_sender['conversation_id']}")).json()
    assert (conversation["sender_id"], conversation["channel"]) == ("s-8", "socketio")


async def test_unknown_ticket_is_404_naming_ticket_id(client: TestClient[Any, Any], counts: Any) -> None:
    # The body is valid (the OpenAPI document cannot know which tickets exist): what it names is not found.
    before = await counts(client)
    error = await assert_error(
        await client.post(
            "/api/feedback", json={"kind": "csat", "score": 5, "ticket_id": 999, "sender_id": "s"}
        ),
        404,
        {"ticket_id"},
    )
    assert "999" in error["message"]
    assert await counts(client) == before  # not even the conversation was created
    await assert_error(
        await client.post("/api/feedback", json={"kind": "csat", "score": 5, "ticket_id": 2**40}),
        400,
        {"ticket_id"},
    )


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"score": 3}, {"kind"}),
        ({"kind": "nps", "score": 3}, {"kind"}),
        ({"kind": "csat"}, {"score"}),
        ({"kind": "csat", "score": 3, "comment": "x" * 2001}, {"comment"}),
        ({"kind": "csat", "score": 3, "resolver": "human"}, {"resolver"}),
        ({"kind": "csat", "score": 3, "ticket_id": "1"}, {"ticket_id"}),
        ({"kind": "csat", "score": 3, "ticket_id": 0}, {"ticket_id"}),
        ({"kind": "csat", "score": 3, "rating": 5}, {"rating"}),
        ({"kind": "csat", "score": 3, "intent": "i" * 201}, {"intent"}),
    ],
)
async def test_invalid_feedback_is_400(
    client: TestClient[Any, Any], counts: Any, body: dict[str, Any], fields: set[str]
) -> None:
    await assert_error(await client.post("/api/feedback", json=body), 400, fields)
    assert (await counts(client))["feedback"] == 0


async def test_comment_of_2000_characters_is_fine(client: TestClient[Any, Any]) -> None:
    assert len((await rate(client, kind="csat", score=3, comment="c" * 2000))["comment"]) == 2000


async def test_idempotency_key_records_one_rating(client: TestClient[Any, Any], counts: Any) -> None:
    first = await rate(client, kind="csat", score=5, key="rating-1")
    again = await rate(client, 200, kind="csat", score=5, key="rating-1")
    assert again == first
    await rate(client, 422, kind="csat", score=1, key="rating-1")  # another rating under the same key
    responses = await asyncio.gather(
        *(
            client.post("/api/feedback", json={"kind": "ces", "score": 3}, headers={"Idempotency-Key": "r-2"})
            for _ in range(5)
        )
    )
    assert sorted(r.status for r in responses) == [200, 200, 200, 200, 201]
    assert (await counts(client))["feedback"] == 2


async def test_list_filters_paging_and_order(client: TestClient[Any, Any]) -> None:
    ticket = await (await client.post("/api/tickets", json=ticket_payload())).json()
    f1 = await rate(client, kind="csat", score=5, ticket_id=ticket["id"])
    f2 = await rate(client, kind="ces", score=3)
    f3 = await rate(client, kind="csat", score=2)
    f4 = await rate(client, kind="ces", score=6, ticket_id=ticket["id"])

    async def ids(query: str) -> tuple[list[int], int]:
        return await page_ids(client, f"/api/feedback{query}")

    assert await ids("") == ([f4["id"], f3["id"], f2["id"], f1["id"]], 4)
    assert await ids("?kind=csat") == ([f3["id"], f1["id"]], 2)
    assert await ids(f"?ticket_id={ticket['id']}") == ([f4["id"], f1["id"]], 2)
    assert await ids(f"?kind=ces&ticket_id={ticket['id']}") == ([f4["id"]], 1)
    assert await ids("?limit=1&offset=1") == ([f3["id"]], 4)
    assert await ids("?ticket_id=999") == ([], 0)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?kind=nps", "kind"),
        ("?ticket_id=x", "ticket_id"),
        ("?ticket_id=0", "ticket_id"),
        ("?limit=500", "limit"),
        ("?offset=-5", "offset"),
        ("?sort=score", "sort"),
    ],
)
async def test_bad_list_parameters_are_400(client: TestClient[Any, Any], query: str, field: str) -> None:
    await assert_error(await client.get(f"/api/feedback{query}"), 400, {field})
