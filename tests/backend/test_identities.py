"""Customer identities on the real database (SQLite and PostgreSQL): a verified website user bound to a
conversation (its anonymous customer merged in, nothing duplicated, idempotent), "my tickets" across the
customer's conversations, link codes (expiry, single use, wrong codes and their limit), undo and the audit."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from cs_backend.api.errors import NotFound, TooManyRequests
from cs_backend.app_keys import DATABASE
from cs_backend.config import Settings
from cs_backend.db import utcnow
from cs_backend.identities import service
from cs_backend.identities.website_hash import user_hash
from cs_backend.main import create_app
from launcher.stack import DEMO_USER, DEMO_USER_VARIABLE, Ports, service_env

from .helpers import assert_error, bearer_of_new_account, complete, ticket_payload

SITE_SECRET = "website-identity-secret-for-the-tests-0123456789"


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    configured = dataclasses.replace(
        settings, website_identity_secret=SITE_SECRET, telegram_bot_username="acme_support_bot"
    )
    return await aiohttp_client(create_app(configured))


async def bind(
    client: TestClient[Any, Any], user_id: str, sender_id: str, status: int = 200
) -> dict[str, Any]:
    response = await client.post(
        "/api/identities/website/bindings",
        json={"user_id": user_id, "sender_id": sender_id, "channel": "socketio"},
    )
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def scalar(client: TestClient[Any, Any], sql: str, **params: Any) -> Any:
    async with client.app[DATABASE].engine.connect() as connection:
        return await connection.scalar(text(sql), params)


async def steps_of(client: TestClient[Any, Any], customer_id: int) -> list[str]:
    async with client.app[DATABASE].engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT step_key FROM onboarding_progress WHERE customer_id = :c ORDER BY step_key"),
            {"c": customer_id},
        )
        return [row[0] for row in rows]


async def test_binding_merges_the_anonymous_customer_once(client: TestClient[Any, Any]) -> None:
    # Anonymous visitor: onboarding progress and a churn-free history on an anonymous customer.
    anonymous = (await complete(client, "sign_up", sender_id="widget-a", channel="socketio"))["customer_id"]
    await complete(client, "verify_email", sender_id="widget-a", channel="socketio")
    # The same person, verified earlier in another session, had done sign_up there too.
    earlier = await bind(client, "user-42", "widget-earlier")
    assert earlier["merged_customer_id"] is None
    await complete(client, "sign_up", sender_id="widget-earlier", channel="socketio")

    bound = await bind(client, "user-42", "widget-a")
    assert bound["customer_id"] == earlier["customer_id"]
    assert bound["merged_customer_id"] == anonymous
    # The union of the steps, one row each; the anonymous customer is gone.
    assert await steps_of(client, bound["customer_id"]) == ["sign_up", "verify_email"]
    assert await scalar(client, "SELECT count(*) FROM customers WHERE id = :c", c=anonymous) == 0
    progress = await client.get("/api/onboarding/progress?sender_id=widget-a&channel=socketio")
    assert (await progress.json())["customer_id"] == bound["customer_id"]

    # Idempotent: again changes nothing, writes no audit.
    events_before = await scalar(client, "SELECT count(*) FROM identity_link_events")
    again = await bind(client, "user-42", "widget-a")
    assert again == {**bound, "merged_customer_id": None}
    assert await scalar(client, "SELECT count(*) FROM identity_link_events") == events_before
    assert await steps_of(client, bound["customer_id"]) == ["sign_up", "verify_email"]
    assert await scalar(client, "SELECT count(*) FROM customer_identities") == 1


async def test_a_conversation_of_another_verified_user_is_not_taken(client: TestClient[Any, Any]) -> None:
    await bind(client, "alice", "widget-shared")
    await assert_error(
        await client.post(
            "/api/identities/website/bindings",
            json={"user_id": "mallory", "sender_id": "widget-shared", "channel": "socketio"},
        ),
        409,
        {"sender_id"},
    )
    owner = await scalar(client, "SELECT customer_id FROM customer_identities WHERE external_id = 'alice'")
    shared = "SELECT customer_id FROM conversations WHERE sender_id = 'widget-shared'"
    assert await scalar(client, shared) == owner


async def test_my_tickets_follow_the_verified_customer_across_sessions(client: TestClient[Any, Any]) -> None:
    created = await client.post(
        "/api/tickets", json=ticket_payload(sender_id="widget-monday", channel="socketio")
    )
    ticket = await created.json()
    await bind(client, "user-7", "widget-monday")  # verified after opening the ticket
    await bind(client, "user-7", "widget-friday")  # a later session of the same user
    await client.post("/api/tickets", json=ticket_payload(email="x@example.com", sender_id="widget-stranger"))

    mine = await client.get("/api/tickets?sender_id=widget-friday&channel=socketio&scope=customer&limit=1")
    assert [item["id"] for item in (await mine.json())["items"]] == [ticket["id"]]
    # The default scope is the conversation only, as before.
    only_this = await client.get("/api/tickets?sender_id=widget-friday&channel=socketio")
    assert (await only_this.json())["total"] == 0
    # An anonymous conversation sees only its own tickets, whatever the scope.
    stranger = await client.get("/api/tickets?sender_id=widget-stranger&scope=customer")
    assert [item["email"] for item in (await stranger.json())["items"]] == ["x@example.com"]


async def link_code(client: TestClient[Any, Any], user_id: str) -> dict[str, Any]:
    response = await client.post(
        "/api/identities/link-codes", json={"user_id": user_id, "user_hash": user_hash(SITE_SECRET, user_id)}
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def redeem(client: TestClient[Any, Any], code: str, sender_id: str, channel: str = "telegram") -> Any:
    return await client.post(
        "/api/identities/link-codes/redeem", json={"code": code, "sender_id": sender_id, "channel": channel}
    )


async def test_link_code_links_a_telegram_user_once_and_the_link_can_be_undone(
    client: TestClient[Any, Any],
) -> None:
    website = await bind(client, "user-9", "widget-9")
    # The Telegram user had chatted anonymously: their progress comes along.
    progress = await complete(client, "complete_profile", sender_id="555", channel="telegram")
    anonymous = progress["customer_id"]
    issued = await link_code(client, "user-9")
    assert len(issued["code"]) == 6 and issued["code"].isdigit()
    assert issued["telegram_link"].startswith("https://t.me/acme_support_bot?start=")

    linked = await redeem(client, issued["code"], "555")
    assert linked.status == 200, await linked.text()
    body = await linked.json()
    assert body["customer_id"] == website["customer_id"]
    assert body["merged_customer_id"] == anonymous
    assert await steps_of(client, website["customer_id"]) == ["complete_profile"]

    # Single use: the same code again is refused like a wrong one.
    await assert_error(await redeem(client, issued["code"], "555"), 404, {"code"})
    # The deep link of the same issue links a Slack user as well (each secret is single use on its own).
    token = issued["telegram_link"].rpartition("=")[2]
    slack = await redeem(client, token, "U123", channel="slack")
    assert slack.status == 200 and (await slack.json())["customer_id"] == website["customer_id"]

    # Undo, by an agent: the Telegram conversation is detached; the audit tells the story.
    agent = await bearer_of_new_account(client, "agent")
    unlinked = await client.post(f"/api/identities/{body['identity_id']}/unlink", headers=agent)
    assert unlinked.status == 200, await unlinked.text()
    assert (await unlinked.json())["unlinked_at"] is not None
    assert await scalar(client, "SELECT customer_id FROM conversations WHERE sender_id = '555'") is None
    # The service may not unlink; an agent may read the audit.
    await assert_error(await client.post(f"/api/identities/{body['identity_id']}/unlink"), 403)
    audit = await client.get(f"/api/customers/{website['customer_id']}/identities", headers=agent)
    assert audit.status == 200
    summary = await audit.json()
    actions = [(event["action"], event["kind"], event["external_id"]) for event in summary["events"]]
    assert actions == [
        ("bound", "website", "user-9"),
        ("merged", "telegram", "555"),
        ("linked", "telegram", "555"),
        ("linked", "slack", "U123"),
        ("unlinked", "telegram", "555"),
    ]
    linked_event = summary["events"][2]
    assert linked_event["link_code_id"] is not None and linked_event["actor"] == "customer"
    assert summary["events"][-1]["actor"].startswith("account:")
    # A new code links the Telegram user again (a new identity row; the old one stays for the audit).
    again = await redeem(client, (await link_code(client, "user-9"))["code"], "555")
    assert again.status == 200
    assert await scalar(client, "SELECT count(*) FROM customer_identities WHERE kind = 'telegram'") == 2


async def test_link_code_refusals(client: TestClient[Any, Any]) -> None:
    await assert_error(
        await client.post("/api/identities/link-codes", json={"user_id": "u", "user_hash": "0" * 64}),
        401,
        {"user_hash"},
    )
    await assert_error(
        await client.post("/api/identities/link-codes", json={"user_id": "u", "user_hash": "nothex"}),
        400,
        {"user_hash"},
    )
    issued = await link_code(client, "user-1")
    await assert_error(await redeem(client, issued["code"], "42", channel="socketio"), 400, {"channel"})
    assert await scalar(client, "SELECT count(*) FROM customer_identities WHERE kind = 'telegram'") == 0

    # Expired: past its lifetime the code is refused (the service at a later clock).
    database = client.app[DATABASE]
    start = utcnow()
    old = await service.issue_link_code(database, "user-1", timedelta(minutes=10), start)
    with pytest.raises(NotFound):
        await service.redeem_link_code(database, old.code, "77", "telegram", start + timedelta(minutes=11))

    # Wrong codes: refused and audited; five refused (the expired one and four wrong ones) within the window
    # lock the identity out (429), even for a right code, until the window has passed.
    right = await service.issue_link_code(database, "user-1", timedelta(minutes=60), start)
    wrong = f"{(int(right.code) + 1) % 10**6:06d}"
    for minute in range(4):
        at = start + timedelta(minutes=minute)
        with pytest.raises(NotFound):
            await service.redeem_link_code(database, wrong, "77", "telegram", at)
    with pytest.raises(TooManyRequests):
        await service.redeem_link_code(database, right.code, "77", "telegram", start + timedelta(minutes=5))
    later = start + timedelta(minutes=30)
    linked = await service.redeem_link_code(database, right.code, "77", "telegram", later)
    assert linked.customer_id == await service.website_customer_id(database, "user-1")
    refused = await scalar(client, "SELECT count(*) FROM identity_link_events WHERE action = 'refused'")
    assert refused == 5


async def test_a_website_user_undoes_their_own_link_only(client: TestClient[Any, Any]) -> None:
    issued = await link_code(client, "owner")
    identity = (await (await redeem(client, issued["code"], "U1", channel="slack")).json())["identity_id"]
    other = await link_code(client, "other")
    redeemed = await redeem(client, other["code"], "U2", channel="slack")
    other_identity = (await redeemed.json())["identity_id"]

    def proof(user_id: str, identity_id: int) -> dict[str, Any]:
        return {"user_id": user_id, "user_hash": user_hash(SITE_SECRET, user_id), "identity_id": identity_id}

    await assert_error(
        await client.post("/api/identities/website/unlink", json=proof("owner", other_identity)),
        404,
        {"identity_id"},
    )
    done = await client.post("/api/identities/website/unlink", json=proof("owner", identity))
    assert done.status == 200 and (await done.json())["unlinked_at"] is not None
    actor = await scalar(client, "SELECT actor FROM identity_link_events WHERE action = 'unlinked'")
    assert actor == "customer"


async def test_the_demo_website_signs_in_its_demo_user_only_where_told_to(
    client: TestClient[Any, Any], settings: Settings, aiohttp_client: Any
) -> None:
    # A site with its own secret and no DEMO_WEBSITE_USER has no page that signs a visitor in.
    assert (await client.get("/demo/signed-in")).status == 404
    demo = await aiohttp_client(
        create_app(
            dataclasses.replace(settings, website_identity_secret=SITE_SECRET, demo_website_user="demo-ada")
        )
    )
    page = await demo.get("/demo/signed-in")
    assert page.status == 200
    body = await page.text()
    assert user_hash(SITE_SECRET, "demo-ada") in body and SITE_SECRET not in body
    assert "/api/identities/link-codes" in body
    # Without the secret the site has no signed-in user to show.
    plain = await aiohttp_client(create_app(dataclasses.replace(settings, demo_website_user="demo-ada")))
    assert (await plain.get("/demo/signed-in")).status == 404
    assert "csWidgetConfig" not in await (await plain.get("/")).text()


def test_the_launcher_shows_the_demo_user_only_with_a_secret_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WEBSITE_IDENTITY_SECRET", raising=False)
    monkeypatch.delenv(DEMO_USER_VARIABLE, raising=False)
    ports = Ports.from_env({})
    assert service_env(ports)[DEMO_USER_VARIABLE] == DEMO_USER
    assert DEMO_USER_VARIABLE not in service_env(ports, {"WEBSITE_IDENTITY_SECRET": SITE_SECRET})
    asked = service_env(ports, {"WEBSITE_IDENTITY_SECRET": SITE_SECRET, DEMO_USER_VARIABLE: "demo-bob"})
    assert asked[DEMO_USER_VARIABLE] == "demo-bob"
