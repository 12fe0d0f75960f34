"""Onboarding: the checklist file, /api/onboarding/steps, start and progress, and migration 0002.

Runs on SQLite and PostgreSQL like the other database tests (conftest's app has the nudge job off).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from cs_backend import migrate
from cs_backend.app_keys import DATABASE
from cs_backend.config import Settings
from cs_backend.db import create_engine
from cs_backend.main import create_app
from cs_backend.onboarding import checklist as checklist_module
from cs_backend.onboarding.checklist import ChecklistError, load_checklist

from .helpers import ONBOARDING_PROGRESS_FIELDS, assert_error, complete

STEP_KEYS = [
    "sign_up",
    "verify_email",
    "complete_profile",
    "connect_integration",
    "invite_teammate",
    "create_project",
]
ONBOARDING_TABLES = ["onboarding_nudges", "onboarding_progress"]
ALL_TABLES = [*ONBOARDING_TABLES, "feedback", "tickets", "conversations", "customers"]
STEP_FIELDS = {"key", "title", "how_to", "docs_url", "position"}


async def table_counts(client: TestClient[Any, Any]) -> dict[str, int]:
    async with client.app[DATABASE].engine.connect() as connection:
        return {
            table: int(await connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in ALL_TABLES
        }


async def get_progress(client: TestClient[Any, Any], **params: Any) -> dict[str, Any]:
    response = await client.get("/api/onboarding/progress", params=params)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    assert set(body) == ONBOARDING_PROGRESS_FIELDS
    return body


async def start(client: TestClient[Any, Any], **body: Any) -> dict[str, Any]:
    response = await client.post("/api/onboarding/start", json=body)
    assert response.status == 200, await response.text()
    progress: dict[str, Any] = await response.json()
    assert set(progress) == ONBOARDING_PROGRESS_FIELDS
    return progress


def done_keys(progress: dict[str, Any]) -> list[str]:
    return [step["key"] for step in progress["steps"] if step["done"]]


# --- the checklist file -------------------------------------------------------------------------------------


def test_bundled_checklist_has_the_six_steps_in_order() -> None:
    checklist = load_checklist()
    assert list(checklist.keys) == STEP_KEYS
    for position, step in enumerate(checklist, start=1):
        assert step.position == position
        assert step.title and len(step.how_to) > 80, step
        assert step.docs_url.startswith("https://docs.acme.example/"), step
    assert "Settings → Integrations" in checklist.by_key["connect_integration"].how_to
    assert checklist.next_step(set()) == checklist.by_key["sign_up"]
    assert checklist.next_step(set(STEP_KEYS)) is None


VALID_STEP = 'key = "{key}"\ntitle = "T"\nhow_to = "Do it."\ndocs_url = "https://docs.acme.example/x"\n'


def _steps(*keys: str) -> str:
    return "".join("[[steps]]\n" + VALID_STEP.format(key=key) for key in keys)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_steps("a", "b", "a"), r"step 3 \(a\): duplicate key 'a' \(already step 1\)"),
        (
            _steps("a") + '[[steps]]\nkey = "b"\ntitle = "T"\nhow_to = "x"\n',
            r"step 2 \(b\): missing .*'docs_url'",
        ),
        (
            _steps("a").replace('title = "T"', 'title = "  "'),
            r"step 1 \(a\): field 'title' must be a non-empty",
        ),
        (
            _steps("a").replace('how_to = "Do it."', "how_to = 3"),
            r"field 'how_to' must be a non-empty string",
        ),
        (_steps("a") + 'colour = "red"\n', r"step 1 \(a\): unknown field\(s\) colour"),
        (_steps("Sign Up"), r"key 'Sign Up' must be lower-case"),
        (_steps("a").replace("https://docs", "ftp://docs"), r"docs_url must be an http\(s\) URL"),
        ("", r"needs a non-empty list of \[\[steps\]\]"),
        ('steps = "sign_up"\n', r"needs a non-empty list"),
        ("title = 'x'\n" + _steps("a"), r"unknown top-level key\(s\) title"),
        ("[[steps]\nkey = ", r"not valid TOML"),
    ],
)
def test_broken_checklists_are_refused_with_a_clear_message(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "checklist.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ChecklistError, match=message) as raised:
        load_checklist(path)
    assert str(path) in str(raised.value)


def test_missing_checklist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ChecklistError, match="onboarding checklist not found"):
        load_checklist(tmp_path / "nope.toml")


async def test_a_broken_checklist_stops_the_app_at_startup(
    aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "checklist.toml"
    broken.write_text(_steps("sign_up", "sign_up"), encoding="utf-8")
    monkeypatch.setattr(checklist_module, "CHECKLIST_PATH", broken)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", onboarding_nudge_interval_seconds=0
    )
    with pytest.raises(ChecklistError, match=r"duplicate key 'sign_up'"):
        await aiohttp_client(create_app(settings))


# --- GET /api/onboarding/steps ------------------------------------------------------------------------------


async def test_steps_are_listed_in_order(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/onboarding/steps")
    assert response.status == 200
    steps = (await response.json())["steps"]
    assert [step["key"] for step in steps] == STEP_KEYS
    assert [step["position"] for step in steps] == [1, 2, 3, 4, 5, 6]
    assert all(set(step) == STEP_FIELDS for step in steps)
    assert steps[3]["title"] == "Connect an integration"
    assert steps[3]["docs_url"] == "https://docs.acme.example/integrations"
    await assert_error(await client.get("/api/onboarding/steps?lang=fr"), 400, {"lang"})


# --- progress -----------------------------------------------------------------------------------------------


async def test_progress_of_an_unknown_conversation_is_empty_and_writes_nothing(
    client: TestClient[Any, Any],
) -> None:
    before = await table_counts(client)
    progress = await get_progress(client, sender_id="web-1", channel="socketio")
    assert progress["customer_id"] is None
    assert progress["done_count"] == 0
    assert progress["total"] == 6
    assert progress["completed"] is False
    assert progress["next_step"]["key"] == "sign_up"
    assert set(progress["next_step"]) == STEP_FIELDS
    assert progress["next_step"]["position"] == 1
    assert [step["key"] for step in progress["steps"]] == STEP_KEYS
    assert all(
        step
        == {"key": step["key"], "title": step["title"], "done": False, "completed_at": None, "source": None}
        for step in progress["steps"]
    )
    assert await table_counts(client) == before == dict.fromkeys(ALL_TABLES, 0)

    # A conversation without a customer (as a rating creates it) is read the same way: nothing is attached.
    created = await client.post("/api/conversations", json={"sender_id": "web-1", "channel": "socketio"})
    assert created.status == 201
    before = await table_counts(client)
    assert await get_progress(client, sender_id="web-1", channel="socketio") == progress
    assert await table_counts(client) == before
    assert before["conversations"] == 1 and before["customers"] == 0


async def test_start_creates_the_conversation_and_its_customer_once(client: TestClient[Any, Any]) -> None:
    me = {"sender_id": "web-1", "channel": "socketio"}
    started = await start(client, **me)
    assert isinstance(started["customer_id"], int)
    assert started["done_count"] == 0 and started["next_step"]["key"] == "sign_up"
    counts = await table_counts(client)
    assert counts["customers"] == 1 and counts["conversations"] == 1

    # The conversation was created and given an anonymous customer (no email), visible through the API.
    customer = await (await client.get(f"/api/customers/{started['customer_id']}")).json()
    assert customer["email"] is None
    conversation = await client.post("/api/conversations", json=me)
    assert conversation.status == 200  # it already existed
    assert (await conversation.json())["customer_id"] == started["customer_id"]

    # Idempotent: starting again creates nothing and answers the same progress; reading finds the customer.
    before = await table_counts(client)
    assert await start(client, **me) == started
    assert await get_progress(client, **me) == started
    assert await table_counts(client) == before

    # After a step is done, starting again keeps it.
    done = await complete(client, "verify_email", **me)
    assert await start(client, **me) == done
    assert (await table_counts(client))["customers"] == 1


async def test_start_uses_the_customer_the_conversation_has(client: TestClient[Any, Any]) -> None:
    conversation = await (
        await client.post(
            "/api/conversations", json={"sender_id": "s-5", "channel": "rest", "email": "ada@example.com"}
        )
    ).json()
    started = await start(client, sender_id="s-5", channel="rest")
    assert started["customer_id"] == conversation["customer_id"]
    assert (await table_counts(client))["customers"] == 1


async def test_start_needs_a_conversation_and_writes_nothing_when_refused(
    client: TestClient[Any, Any],
) -> None:
    post = "/api/onboarding/start"
    await assert_error(await client.post(post, json={}), 400, {"sender_id", "channel"})
    await assert_error(await client.post(post, json={"sender_id": "s"}), 400, {"channel"})
    await assert_error(
        await client.post(post, json={"sender_id": None, "channel": "rest"}), 400, {"sender_id"}
    )
    await assert_error(
        await client.post(post, json={"sender_id": " ", "channel": "rest"}), 400, {"sender_id"}
    )
    await assert_error(
        await client.post(post, json={"sender_id": "s", "channel": "rest", "customer_id": 1}),
        400,
        {"customer_id"},
    )
    await assert_error(await client.post(post, json={"sender_id": 7, "channel": "rest"}), 400, {"sender_id"})
    assert await table_counts(client) == dict.fromkeys(ALL_TABLES, 0)


async def test_completing_steps_in_and_out_of_order_and_twice(client: TestClient[Any, Any]) -> None:
    me = {"sender_id": "web-2", "channel": "socketio"}
    first = await complete(client, "sign_up", **me)
    assert first["done_count"] == 1
    assert first["next_step"]["key"] == "verify_email"
    sign_up = first["steps"][0]
    assert sign_up["done"] is True and sign_up["source"] == "customer" and sign_up["completed_at"]

    # Out of order: the next step stays the first one not done.
    skipped = await complete(client, "invite_teammate", **me)
    assert skipped["done_count"] == 2
    assert skipped["next_step"]["key"] == "verify_email"

    # Reported by the product, by customer id.
    customer = {"customer_id": first["customer_id"]}
    third = await complete(client, "verify_email", **customer, source="product")
    assert done_keys(third) == ["sign_up", "verify_email", "invite_teammate"]
    assert third["done_count"] == 3 and third["total"] == 6 and third["completed"] is False
    assert third["next_step"]["key"] == "complete_profile"
    assert third["steps"][1]["source"] == "product"

    # Twice: nothing changes, still 200, and the first completion (time and source) is kept.
    again = await complete(client, "sign_up", **customer, source="product")
    assert again == third
    assert await get_progress(client, **me) == third
    assert await get_progress(client, customer_id=first["customer_id"]) == third

    for step in ("create_project", "complete_profile"):
        progress = await complete(client, step, **me)
    assert progress["done_count"] == 5 and progress["next_step"]["key"] == "connect_integration"
    final = await complete(client, "connect_integration", **me)
    assert final["done_count"] == 6
    assert final["completed"] is True
    assert final["next_step"] is None
    assert all(step["done"] for step in final["steps"])
    assert (await table_counts(client))["onboarding_progress"] == 6
    assert (await table_counts(client))["customers"] == 1


async def test_an_existing_customer_of_the_conversation_is_used(client: TestClient[Any, Any]) -> None:
    conversation = await (
        await client.post(
            "/api/conversations", json={"sender_id": "s-3", "channel": "rest", "email": "ada@example.com"}
        )
    ).json()
    progress = await complete(client, "sign_up", sender_id="s-3", channel="rest")
    assert progress["customer_id"] == conversation["customer_id"]
    customer = await (await client.get(f"/api/customers/{progress['customer_id']}")).json()
    assert customer["email"] == "ada@example.com"
    assert (await table_counts(client))["customers"] == 1


async def test_unknown_step_is_a_404_naming_step_and_writes_nothing(client: TestClient[Any, Any]) -> None:
    # A step key is any text to the OpenAPI document (the checklist is configuration): one the checklist
    # does not have is not found, like an unknown id.
    before = await table_counts(client)
    error = await assert_error(
        await client.post(
            "/api/onboarding/progress", json={"step": "launch_rocket", "sender_id": "s-4", "channel": "rest"}
        ),
        404,
        {"step"},
    )
    assert "launch_rocket" in error["fields"]["step"] and "sign_up" in error["fields"]["step"]
    # With a bad identity as well, both are reported at once.
    await assert_error(
        await client.post("/api/onboarding/progress", json={"step": "nope"}),
        400,
        {"step", "customer_id", "sender_id"},
    )
    await assert_error(await client.post("/api/onboarding/progress", json={"step": ""}), 400, {"step"})
    await assert_error(
        await client.post("/api/onboarding/progress", json={"step": 3, "customer_id": 1}), 400, {"step"}
    )
    assert await table_counts(client) == before


async def test_identity_is_required_and_unambiguous(client: TestClient[Any, Any]) -> None:
    before = await table_counts(client)
    post = "/api/onboarding/progress"
    await assert_error(await client.post(post, json={"step": "sign_up"}), 400, {"customer_id", "sender_id"})
    await assert_error(
        await client.post(post, json={"step": "sign_up", "customer_id": None, "sender_id": None}),
        400,
        {"customer_id", "sender_id"},
    )
    await assert_error(await client.post(post, json={"step": "sign_up", "sender_id": "s"}), 400, {"channel"})
    await assert_error(
        await client.post(post, json={"step": "sign_up", "channel": "rest"}), 400, {"sender_id"}
    )
    await assert_error(
        await client.post(
            post, json={"step": "sign_up", "customer_id": 1, "sender_id": "s", "channel": "rest"}
        ),
        400,
        {"sender_id"},
    )
    await assert_error(
        await client.post(post, json={"step": "sign_up", "customer_id": "1"}), 400, {"customer_id"}
    )
    await assert_error(
        await client.post(post, json={"step": "sign_up", "customer_id": 1, "source": "agent"}),
        400,
        {"source"},
    )
    await assert_error(
        await client.post(post, json={"step": "sign_up", "customer_id": 1, "extra": 1}), 400, {"extra"}
    )
    await assert_error(await client.get("/api/onboarding/progress"), 400, {"customer_id", "sender_id"})
    await assert_error(await client.get("/api/onboarding/progress?sender_id=s"), 400, {"channel"})
    await assert_error(await client.get("/api/onboarding/progress?customer_id=abc"), 400, {"customer_id"})
    await assert_error(
        await client.get("/api/onboarding/progress?customer_id=1&customer_id=2"), 400, {"customer_id"}
    )
    await assert_error(await client.get("/api/onboarding/progress?email=a@example.com"), 400, {"email"})
    # An unknown customer: 404, naming the field when written.
    await assert_error(await client.get("/api/onboarding/progress?customer_id=999"), 404)
    await assert_error(
        await client.post(post, json={"step": "sign_up", "customer_id": 999}), 404, {"customer_id"}
    )
    assert await table_counts(client) == before


@pytest.mark.parametrize("conversation_exists", [False, True], ids=["new", "existing"])
async def test_concurrent_first_requests_of_a_conversation_share_one_customer(
    client: TestClient[Any, Any], conversation_exists: bool
) -> None:
    """New: the conversation inserts race (one wins, the others retry). Existing without a customer (as a
    rating creates it): the anonymous customers race to be attached, and the losers remove theirs."""
    me = {"sender_id": "race", "channel": "socketio"}
    if conversation_exists:
        assert (await client.post("/api/conversations", json=me)).status == 201
    responses = await asyncio.gather(
        *(client.post("/api/onboarding/progress", json={"step": step, **me}) for step in STEP_KEYS[:4]),
        *(client.post("/api/onboarding/start", json=me) for _ in range(2)),
    )
    assert [response.status for response in responses] == [200] * 6
    customers = {(await response.json())["customer_id"] for response in responses}
    assert len(customers) == 1
    progress = await get_progress(client, **me)
    assert progress["done_count"] == 4
    counts = await table_counts(client)
    assert counts["customers"] == 1 and counts["conversations"] == 1


async def test_tickets_still_work_next_to_anonymous_customers(client: TestClient[Any, Any]) -> None:
    await complete(client, "sign_up", sender_id="anon-1", channel="rest")
    await complete(client, "sign_up", sender_id="anon-2", channel="rest")  # two NULL emails: both allowed
    response = await client.post(
        "/api/tickets",
        json={"description": "Help", "email": "bob@example.com", "sender_id": "t-1", "channel": "rest"},
    )
    assert response.status == 201
    assert (await table_counts(client))["customers"] == 3


async def test_onboarding_routes_are_documented(client: TestClient[Any, Any]) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/onboarding/progress"]) == {"get", "post"}
    assert set(paths["/api/onboarding/start"]) == {"post"}
    progress_out = document["components"]["schemas"]["ProgressOut"]["properties"]["customer_id"]
    assert {"type": "null"} in progress_out["anyOf"] and progress_out["description"]
    assert "400" in paths["/api/onboarding/progress"]["post"]["responses"]
    assert {p["name"] for p in paths["/api/onboarding/progress"]["get"]["parameters"]} == {
        "customer_id",
        "sender_id",
        "channel",
    }
    assert "get" in paths["/api/onboarding/steps"] and "get" in paths["/api/onboarding/stalled"]
    schemas = document["components"]["schemas"]
    assert schemas["ProgressUpdate"]["required"] == ["step"]
    assert sorted(schemas["OnboardingStart"]["required"]) == ["channel", "sender_id"]
    customer_email = schemas["CustomerOut"]["properties"]["email"]
    assert {"type": "null"} in customer_email["anyOf"]


# --- the database and migration 0002 ------------------------------------------------------------------------

NOW = "2025-01-01 00:00:00+00"
CUSTOMER = "INSERT INTO customers (id, email, created_at) VALUES ({id}, {email}, '" + NOW + "')"
PROGRESS = (
    "INSERT INTO onboarding_progress (customer_id, step_key, completed_at, source) "
    "VALUES ({customer}, '{step}', '" + NOW + "', '{source}')"
)
CONVERSATION = (
    "INSERT INTO conversations (id, sender_id, channel, customer_id, started_at, last_seen_at) "
    f"VALUES (1, 's', 'rest', 1, '{NOW}', '{NOW}')"
)
NUDGE = (
    "INSERT INTO onboarding_nudges (customer_id, step_key, conversation_id, sent_at) "
    "VALUES ({customer}, '{step}', {conversation}, '" + NOW + "')"
)


@pytest.mark.parametrize(
    "statement",
    [
        PROGRESS.format(customer=1, step="sign_up", source="customer"),  # the same step twice
        PROGRESS.format(customer=1, step="verify_email", source="agent"),
        PROGRESS.format(customer=99, step="verify_email", source="customer"),  # no such customer
        NUDGE.format(customer=1, step="sign_up", conversation=1),  # nudged twice for one step
        NUDGE.format(customer=1, step="verify_email", conversation=99),  # no such conversation
        CUSTOMER.format(id=3, email="'a@example.com'"),  # emails stay unique
    ],
)
async def test_the_database_refuses_invalid_onboarding_rows(
    migrated_database_url: str, statement: str
) -> None:
    engine = create_engine(migrated_database_url)
    try:
        async with engine.begin() as connection:
            for sql in (
                CUSTOMER.format(id=1, email="'a@example.com'"),
                CUSTOMER.format(id=2, email="NULL"),
                CUSTOMER.format(id=4, email="NULL"),  # any number of customers without an email
                CONVERSATION,
                PROGRESS.format(customer=1, step="sign_up", source="customer"),
                NUDGE.format(customer=1, step="sign_up", conversation=1),
            ):
                await connection.execute(text(sql))
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def test_migration_0002_upgrades_and_downgrades_a_database_with_rows(database_url: str) -> None:
    await migrate.upgrade_async(database_url, "0001")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(f"INSERT INTO customers (id, email, created_at) VALUES (1, 'a@example.com', '{NOW}')")
            )
            await connection.execute(
                text(
                    "INSERT INTO conversations "
                    "(id, sender_id, channel, customer_id, started_at, last_seen_at) "
                    f"VALUES (1, 's1', 'rest', 1, '{NOW}', '{NOW}'), "
                    f"(2, 's2', 'rest', NULL, '{NOW}', '{NOW}')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO tickets (id, subject, description, priority, status, email, customer_id, "
                    "conversation_id, channel, created_at, updated_at) VALUES "
                    f"(1, 's', 'd', 'low', 'open', 'a@example.com', 1, 1, 'rest', '{NOW}', '{NOW}')"
                )
            )
        await engine.dispose()  # SQLite: the migration needs the file to itself

        await migrate.upgrade_async(database_url, "0002")
        async with engine.begin() as connection:
            # customers.email accepts NULL now; the rows referencing customers are intact.
            await connection.execute(
                text(f"INSERT INTO customers (id, email, created_at) VALUES (2, NULL, '{NOW}')")
            )
            await connection.execute(text("UPDATE conversations SET customer_id = 2 WHERE id = 2"))
            await connection.execute(
                text(
                    "INSERT INTO onboarding_progress (customer_id, step_key, completed_at, source) "
                    f"VALUES (2, 'sign_up', '{NOW}', 'customer')"
                )
            )
            assert (await connection.execute(text("SELECT id, customer_id FROM tickets"))).all() == [(1, 1)]
        await engine.dispose()

        await migrate.downgrade_async(database_url, "0001")
        async with engine.connect() as connection:
            # The anonymous customer is gone (detached first); everything else stayed.
            assert (await connection.execute(text("SELECT id, email FROM customers"))).all() == [
                (1, "a@example.com")
            ]
            rows = await connection.execute(text("SELECT id, customer_id FROM conversations ORDER BY id"))
            assert rows.all() == [(1, 1), (2, None)]
            assert (await connection.execute(text("SELECT count(*) FROM tickets"))).scalar() == 1
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            assert not set(ONBOARDING_TABLES) & set(tables)
            with pytest.raises(IntegrityError):
                await connection.execute(
                    text(f"INSERT INTO customers (id, email, created_at) VALUES (3, NULL, '{NOW}')")
                )
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_migration_0002_on_sqlite_inside_an_open_transaction(database_url: str) -> None:
    """When an earlier step of the same run left a transaction open (where SQLite ignores PRAGMA
    foreign_keys), rebuilding customers still works with rows referencing it: the open work is committed
    first."""
    await migrate.upgrade_async(database_url, "0001")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(CUSTOMER.format(id=1, email="'a@example.com'")))
            await connection.execute(text(CONVERSATION))  # references customer 1; the transaction stays open

            def upgrade(sync_connection: Any) -> None:
                config = migrate.alembic_config(database_url)
                config.attributes["connection"] = sync_connection
                command.upgrade(config, "0002")

            await connection.run_sync(upgrade)
            await connection.commit()
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT id, customer_id FROM conversations"))).all() == [
                (1, 1)
            ]
            assert (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar() == "0002"
            assert (await connection.execute(text("PRAGMA foreign_key_check"))).all() == []
    finally:
        await engine.dispose()
