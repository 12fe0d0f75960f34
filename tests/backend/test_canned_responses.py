"""Canned responses (/api/canned-responses): agents and admins list them, only admins create, change and
delete them; one response per shortcut (lower-cased); bad input is a 400 naming the field and changes
nothing. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cs_backend.config import Settings
from cs_backend.main import create_app

from .helpers import assert_error
from .routing_support import Person, person

REFUND = {"title": "Refund policy", "shortcut": "Refund", "text": "You can get a refund within 30 days."}


@pytest.fixture
async def people(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings), sign=False)


async def create(client: TestClient[Any, Any], admin: Person, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/canned-responses", json=body, headers=admin.headers)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def listed(client: TestClient[Any, Any], who: Person, **query: str) -> list[dict[str, Any]]:
    response = await client.get("/api/canned-responses", params=query, headers=who.headers)
    assert response.status == 200, await response.text()
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


async def test_admins_maintain_them_and_agents_list_them(people: TestClient[Any, Any]) -> None:
    admin = await person(people, "admin", "ada")
    agent = await person(people, "agent", "bob")
    refund = await create(people, admin, **REFUND)
    assert refund["shortcut"] == "refund"  # stored lower-cased
    assert refund["language"] == "en"
    hello = await create(people, admin, title="Bonjour", shortcut="bonjour", text="Bonjour !", language="FR")
    assert hello["language"] == "fr"

    assert [item["shortcut"] for item in await listed(people, agent)] == ["bonjour", "refund"]
    assert [item["shortcut"] for item in await listed(people, agent, language="fr")] == ["bonjour"]

    response = await people.patch(
        f"/api/canned-responses/{refund['id']}",
        json={"text": "  Refunds take 5 days.  "},
        headers=admin.headers,
    )
    assert response.status == 200
    changed = await response.json()
    assert changed["text"] == "Refunds take 5 days." and changed["title"] == "Refund policy"
    assert changed["updated_at"] >= refund["updated_at"]

    response = await people.delete(f"/api/canned-responses/{hello['id']}", headers=admin.headers)
    assert response.status == 204
    assert [item["id"] for item in await listed(people, admin)] == [refund["id"]]
    await assert_error(
        await people.delete(f"/api/canned-responses/{hello['id']}", headers=admin.headers), 404
    )


async def test_agents_cannot_change_them(people: TestClient[Any, Any]) -> None:
    admin = await person(people, "admin", "ada")
    agent = await person(people, "agent", "bob")
    refund = await create(people, admin, **REFUND)
    path = f"/api/canned-responses/{refund['id']}"
    await assert_error(await people.post("/api/canned-responses", json=REFUND, headers=agent.headers), 403)
    await assert_error(await people.patch(path, json={"text": "mine"}, headers=agent.headers), 403)
    await assert_error(await people.delete(path, headers=agent.headers), 403)
    await assert_error(await people.get("/api/canned-responses"), 401)
    assert [item["text"] for item in await listed(people, agent)] == [REFUND["text"]]


async def test_a_shortcut_is_unique_whatever_its_case(people: TestClient[Any, Any]) -> None:
    admin = await person(people, "admin", "ada")
    refund = await create(people, admin, **REFUND)
    other = await create(people, admin, title="Hours", shortcut="hours", text="We answer 9-17.")
    response = await people.post(
        "/api/canned-responses", json={**REFUND, "shortcut": "REFUND"}, headers=admin.headers
    )
    await assert_error(response, 409, {"shortcut"})
    response = await people.patch(
        f"/api/canned-responses/{other['id']}", json={"shortcut": "refund"}, headers=admin.headers
    )
    await assert_error(response, 409, {"shortcut"})
    # Its own shortcut again is no conflict.
    response = await people.patch(
        f"/api/canned-responses/{refund['id']}", json={"shortcut": "refund"}, headers=admin.headers
    )
    assert response.status == 200
    assert [item["shortcut"] for item in await listed(people, admin)] == ["hours", "refund"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**REFUND, "text": "   "}, {"text"}),
        ({**REFUND, "text": "x" * 2001}, {"text"}),
        ({**REFUND, "text": "nul \x00 inside"}, {"text"}),
        ({**REFUND, "shortcut": "/refund"}, {"shortcut"}),
        ({**REFUND, "shortcut": "re fund"}, {"shortcut"}),
        ({**REFUND, "title": ""}, {"title"}),
        ({**REFUND, "language": "english"}, {"language"}),
        ({**REFUND, "extra": 1}, {"extra"}),
        ({"title": "t", "text": "t"}, {"shortcut"}),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(
    people: TestClient[Any, Any], body: dict[str, Any], fields: set[str]
) -> None:
    admin = await person(people, "admin", "ada")
    response = await people.post("/api/canned-responses", json=body, headers=admin.headers)
    await assert_error(response, 400, fields)
    assert await listed(people, admin) == []


async def test_a_change_must_change_something(people: TestClient[Any, Any]) -> None:
    admin = await person(people, "admin", "ada")
    refund = await create(people, admin, **REFUND)
    path = f"/api/canned-responses/{refund['id']}"
    await assert_error(await people.patch(path, json={}, headers=admin.headers), 400)
    await assert_error(await people.patch(path, json={"text": None}, headers=admin.headers), 400)
    await assert_error(
        await people.patch("/api/canned-responses/999", json={"text": "x"}, headers=admin.headers), 404
    )
    assert (await listed(people, admin))[0]["text"] == REFUND["text"]
