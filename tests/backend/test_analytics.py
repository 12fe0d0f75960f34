"""The analytics API (/api/analytics, docs/METRICS.md): every formula on real rows of feedback,
conversation_outcomes, handoff_requests and customer_activities, grouped by period, intent, channel and
agent; null (never 0) where a group has no rows; agents and admins only; bad parameters are 400s naming the
field. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cs_backend.activities.models import CustomerActivity
from cs_backend.app_keys import DATABASE
from cs_backend.config import Settings
from cs_backend.conversations.models import Conversation
from cs_backend.customers.models import Customer
from cs_backend.feedback.models import Feedback
from cs_backend.main import create_app
from cs_backend.outcomes.models import ConversationOutcome
from cs_backend.routing.models import HandoffRequest

from .helpers import assert_error
from .routing_support import Person, person

# Monday 2 March 2026, UTC: the window below is that ISO week and the next.
MONDAY = datetime(2026, 3, 2, tzinfo=timezone.utc)
WINDOW = "from=2026-03-02&to=2026-03-15"


def at(days: float, hours: float = 10) -> datetime:
    return MONDAY + timedelta(days=days, hours=hours)


def after(moment: datetime, seconds: int | None) -> datetime | None:
    return None if seconds is None else moment + timedelta(seconds=seconds)


@pytest.fixture
async def people(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings), sign=False)


async def seed(client: TestClient[Any, Any], agent_id: int) -> None:
    """Ratings, decided sessions and handoffs whose metrics are worked out by hand in the tests."""
    async with client.app[DATABASE].sessions() as session, session.begin():
        conversation = Conversation(
            sender_id="web-1", channel="socketio", started_at=at(0), last_seen_at=at(0)
        )
        session.add(conversation)
        await session.flush()
        ratings = [
            # Day 0 (Monday, week 1): CSAT 5, 4, 2 on socketio about billing, by the agent; CES 2 and 6.
            ("csat", 5, "socketio", "billing", agent_id, at(0)),
            ("csat", 4, "socketio", "billing", agent_id, at(0)),
            ("csat", 2, "socketio", "billing", None, at(0)),
            ("ces", 2, "socketio", "billing", None, at(0)),
            ("ces", 6, "socketio", None, agent_id, at(0)),
            # Day 8 (week 2): CSAT 1 on slack, no intent.
            ("csat", 1, "slack", None, None, at(8)),
            # Outside the window (the day before, the day after): never counted.
            ("csat", 1, "slack", None, None, at(-1)),
            ("csat", 5, "slack", None, None, at(14)),
        ]
        for kind, score, channel, intent, agent, created_at in ratings:
            session.add(
                Feedback(
                    kind=kind,
                    score=score,
                    channel=channel,
                    intent=intent,
                    resolver="agent" if agent else "bot",
                    agent_id=agent,
                    created_at=created_at,
                )
            )
        sessions = [
            # sender, started (days), outcome, channel, intents
            ("s-bot", 0, "resolved_by_bot", "socketio", ["billing"]),
            ("s-person", 1, "escalated", "socketio", ["billing", "refund_request"]),
            ("s-gone", 1, "abandoned", "slack", []),
            ("s-ticket", 8, "ticket_created", "slack", ["refund_request"]),
            # Resolved by the bot, but the same conversation came back two days later: not first contact.
            ("s-again", 2, "resolved_by_bot", "socketio", ["billing"]),
            ("s-again", 4, "resolved_by_bot", "socketio", ["billing"]),
        ]
        for sender_id, day, outcome, channel, intents in sessions:
            session.add(
                ConversationOutcome(
                    sender_id=sender_id,
                    channel=channel,
                    session_started_at=at(day),
                    ended_at=at(day, hours=11),
                    outcome=outcome,
                    intents=intents,
                )
            )
        # Handoffs: first replies after 60, 120 and 300 s (median 120), resolutions after 600 and 1800 s
        # (median 1200); one never answered.
        handoffs = [
            (at(0), 60, 600, agent_id, "socketio"),
            (at(1), 120, 1800, agent_id, "socketio"),
            (at(9), 300, None, None, "slack"),
            (at(9), None, None, None, "slack"),
        ]
        for queued_at, first_response, resolution, agent, channel in handoffs:
            session.add(
                HandoffRequest(
                    conversation_id=conversation.id,
                    sender_id="web-1",
                    channel=channel,
                    language="en",
                    priority="normal",
                    reason="customer_request",
                    state="resolved" if resolution else ("accepted" if agent else "queued"),
                    agent_id=agent,
                    queued_at=queued_at,
                    accepted_at=queued_at if agent else None,
                    first_response_at=after(queued_at, first_response),
                    resolved_at=after(queued_at, resolution),
                )
            )


async def get_ok(client: TestClient[Any, Any], url: str, who: Person) -> dict[str, Any]:
    response = await client.get(url, headers=who.headers)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def groups_by_key(body: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {group["key"]: group for group in body["groups"]}


async def test_overall_metrics_follow_the_formulas(people: TestClient[Any, Any]) -> None:
    agent = await person(people, "agent", "alan")
    await seed(people, agent.account_id)
    body = await get_ok(people, f"/api/analytics/summary?{WINDOW}&by=period&period=week", agent)
    assert body["from"] == "2026-03-02" and body["to"] == "2026-03-15"
    overall = body["overall"]
    # CSAT: 5, 4, 2, 1 → two of four satisfied.
    assert overall["csat_percent"] == 50.0 and overall["csat_responses"] == 4
    assert overall["ces_mean"] == 4.0 and overall["ces_responses"] == 2
    # Six sessions: three resolved by the bot, one escalated.
    assert overall["sessions"] == 6
    assert overall["containment_rate"] == pytest.approx(3 / 6)
    assert overall["handoff_rate"] == pytest.approx(1 / 6)
    # Five not abandoned; settled at first contact: s-bot, s-person, the second s-again (not the first).
    assert overall["first_contact_resolution"] == pytest.approx(3 / 5)
    assert overall["handoffs"] == 4
    assert overall["median_first_response_seconds"] == 120.0
    assert overall["median_resolution_seconds"] == 1200.0


async def test_by_week_is_a_series_of_every_period(people: TestClient[Any, Any]) -> None:
    agent = await person(people, "agent", "alan")
    await seed(people, agent.account_id)
    body = await get_ok(people, f"/api/analytics/summary?{WINDOW}&by=period&period=week", agent)
    assert [group["key"] for group in body["groups"]] == ["2026-03-02", "2026-03-09"]
    first, second = (group["metrics"] for group in body["groups"])
    assert first["csat_percent"] == pytest.approx(200 / 3, abs=0.01) and first["csat_responses"] == 3
    assert second["csat_percent"] == 0.0 and second["csat_responses"] == 1
    assert first["sessions"] == 5 and second["sessions"] == 1
    assert second["containment_rate"] == 0.0
    assert first["median_first_response_seconds"] == 90.0
    assert second["median_first_response_seconds"] == 300.0
    assert second["median_resolution_seconds"] is None  # nothing resolved: null, not 0
    assert second["ces_mean"] is None


async def test_by_day_lists_empty_days_with_null_metrics(people: TestClient[Any, Any]) -> None:
    agent = await person(people, "agent", "alan")
    await seed(people, agent.account_id)
    body = await get_ok(people, f"/api/analytics/summary?{WINDOW}&by=period&period=day", agent)
    assert len(body["groups"]) == 14
    by_day = groups_by_key(body)
    quiet = by_day["2026-03-05"]["metrics"]
    assert quiet["csat_percent"] is None and quiet["csat_responses"] == 0
    assert quiet["containment_rate"] is None and quiet["median_first_response_seconds"] is None
    assert by_day["2026-03-10"]["metrics"]["csat_percent"] == 0.0


async def test_by_month_starts_at_the_first(people: TestClient[Any, Any]) -> None:
    agent = await person(people, "agent", "alan")
    await seed(people, agent.account_id)
    body = await get_ok(people, "/api/analytics/summary?from=2026-02-20&to=2026-04-02&period=month", agent)
    assert [group["key"] for group in body["groups"]] == ["2026-02-01", "2026-03-01", "2026-04-01"]
    assert body["groups"][0]["metrics"]["csat_responses"] == 0
    assert body["groups"][1]["metrics"]["csat_responses"] == 6  # the two outside WINDOW are in March


async def test_by_channel_intent_and_agent(people: TestClient[Any, Any]) -> None:
    agent = await person(people, "agent", "alan")
    await seed(people, agent.account_id)
    channels = groups_by_key(await get_ok(people, f"/api/analytics/summary?{WINDOW}&by=channel", agent))
    assert set(channels) == {"socketio", "slack"}
    assert channels["socketio"]["metrics"]["csat_percent"] == pytest.approx(200 / 3, abs=0.01)
    assert channels["slack"]["metrics"]["sessions"] == 2
    assert channels["slack"]["metrics"]["handoffs"] == 2

    intents = groups_by_key(await get_ok(people, f"/api/analytics/summary?{WINDOW}&by=intent", agent))
    assert set(intents) == {"billing", "refund_request", None}
    assert intents[None]["label"] == "(none)"
    # A session about two intents counts in each; handoffs carry no intent.
    assert intents["billing"]["metrics"]["sessions"] == 4
    assert intents["refund_request"]["metrics"]["sessions"] == 2
    assert intents["billing"]["metrics"]["median_first_response_seconds"] is None
    assert intents["billing"]["metrics"]["handoffs"] is None

    agents = await get_ok(people, f"/api/analytics/summary?{WINDOW}&by=agent", agent)
    by_agent = groups_by_key(agents)
    mine = by_agent[str(agent.account_id)]
    assert mine["label"] == "Alan"
    assert mine["metrics"]["csat_percent"] == 100.0 and mine["metrics"]["ces_mean"] == 6.0
    assert mine["metrics"]["median_resolution_seconds"] == 1200.0
    assert mine["metrics"]["sessions"] is None  # a bot's session has no agent
    assert agents["overall"]["sessions"] == 6


async def test_no_data_is_null_not_zero(people: TestClient[Any, Any]) -> None:
    admin = await person(people, "admin", "ada")
    body = await get_ok(people, "/api/analytics/summary?from=2026-01-01&to=2026-01-03", admin)
    overall = body["overall"]
    for name in (
        "csat_percent",
        "ces_mean",
        "containment_rate",
        "handoff_rate",
        "first_contact_resolution",
        "median_first_response_seconds",
        "median_resolution_seconds",
    ):
        assert overall[name] is None, name
    assert overall["csat_responses"] == 0 and overall["sessions"] == 0
    assert len(body["groups"]) == 3


async def test_distribution_counts_every_score(people: TestClient[Any, Any]) -> None:
    agent = await person(people, "agent", "alan")
    await seed(people, agent.account_id)
    body = await get_ok(people, f"/api/analytics/distribution?{WINDOW}", agent)
    assert body["csat"] == {"1": 1, "2": 1, "3": 0, "4": 1, "5": 1}
    assert body["ces"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0, "6": 1, "7": 0}


async def test_defaults_to_the_last_thirty_days(people: TestClient[Any, Any]) -> None:
    agent = await person(people, "agent", "alan")
    body = await get_ok(people, "/api/analytics/summary", agent)
    assert body["by"] == "period" and body["period"] == "day"
    assert len(body["groups"]) == 30 and body["groups"][-1]["key"] == body["to"]


async def test_agents_and_admins_only(people: TestClient[Any, Any], client: TestClient[Any, Any]) -> None:
    for path in ("/api/analytics/summary", "/api/analytics/distribution"):
        await assert_error(await people.get(path), 401)
        # The signed service call: not a person, so not the dashboard's data.
        await assert_error(await client.get(path), 403)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-10&to=2026-03-01", "from"),
        ("from=2025-01-01&to=2026-03-01", "from"),
        ("from=0001-01-01&to=0001-01-02", "from"),
        ("to=9999-12-31", "to"),
        ("from=yesterday", "from"),
        ("to=0", "to"),
        ("from=1700000000", "from"),
        ("to=2026-02-30", "to"),
        ("by=customer", "by"),
        ("period=year", "period"),
        ("colour=red", "colour"),
        ("by=channel&by=intent", "by"),
        ("currency=usd", "currency"),
    ],
)
async def test_bad_parameters_are_400s(people: TestClient[Any, Any], query: str, field: str | None) -> None:
    agent = await person(people, "agent", "alan")
    response = await people.get(f"/api/analytics/summary?{query}", headers=agent.headers)
    error = await assert_error(response, 400)
    if field is not None:
        assert field in error["fields"], error
    else:
        assert error["fields"], error


async def seed_activity(client: TestClient[Any, Any]) -> None:
    """Customers' product activity and payments around WINDOW (its span before: 16 Feb - 1 Mar 2026)."""

    def day(month: int, number: int) -> datetime:
        return datetime(2026, month, number, 12, tzinfo=timezone.utc)

    async with client.app[DATABASE].sessions() as session, session.begin():
        ada, bob, cy, dee = (Customer(email=f"{name}@example.com") for name in ("ada", "bob", "cy", "dee"))
        session.add_all([ada, bob, cy, dee])
        await session.flush()
        events = [
            # Ada: active before the window and in both of its weeks; pays 10.00 in January, 20.00 on 3 March.
            (ada, "login", day(2, 20), None, None),
            (ada, "payment", day(1, 10), 1000, "USD"),
            (ada, "payment", day(3, 3), 2000, "USD"),
            (ada, "login", day(3, 11), None, None),
            # Bob: active before the window only; pays in euros.
            (bob, "payment", day(2, 25), 500, "EUR"),
            # Cy: new in the window's second week, pays 30.00.
            (cy, "feature_used", day(3, 10), None, None),
            (cy, "payment", day(3, 12), 3000, "USD"),
            # Dee: an activity after the window only.
            (dee, "login", day(3, 20), None, None),
        ]
        for customer, kind, occurred_at, amount, currency in events:
            session.add(
                CustomerActivity(
                    customer_id=customer.id,
                    kind=kind,
                    occurred_at=occurred_at,
                    amount_cents=amount,
                    currency=currency,
                )
            )


async def test_retention_and_lifetime_value(people: TestClient[Any, Any]) -> None:
    agent = await person(people, "agent", "alan")
    await seed_activity(people)
    body = await get_ok(people, f"/api/analytics/summary?{WINDOW}&period=week", agent)
    overall = body["overall"]
    # Active before the window: Ada and Bob; Ada came back.
    assert overall["previously_active_customers"] == 2 and overall["retention_rate"] == 0.5
    # USD (three payments against one in EUR): 60.00 paid by Ada and Cy by the end of the window.
    assert overall["currency"] == "USD"
    assert overall["customer_lifetime_value"] == 30.0 and overall["paying_customers"] == 2
    first, second = (group["metrics"] for group in body["groups"])
    # Week 1 against the week before it (Bob only), week 2 against week 1 (Ada, who came back).
    assert (first["retention_rate"], first["previously_active_customers"]) == (0.0, 1)
    assert (second["retention_rate"], second["previously_active_customers"]) == (1.0, 1)
    # By the end of week 1 only Ada had paid in USD (10.00 + 20.00).
    assert (first["customer_lifetime_value"], first["paying_customers"]) == (30.0, 1)
    assert (second["customer_lifetime_value"], second["paying_customers"]) == (30.0, 2)

    euros = await get_ok(people, f"/api/analytics/summary?{WINDOW}&currency=EUR", agent)
    assert euros["overall"]["customer_lifetime_value"] == 5.0 and euros["overall"]["currency"] == "EUR"
    channels = await get_ok(people, f"/api/analytics/summary?{WINDOW}&by=channel", agent)
    assert all(group["metrics"]["retention_rate"] is None for group in channels["groups"])


async def test_retention_and_lifetime_value_without_activity_are_null(people: TestClient[Any, Any]) -> None:
    agent = await person(people, "agent", "alan")
    overall = (await get_ok(people, f"/api/analytics/summary?{WINDOW}", agent))["overall"]
    assert overall["retention_rate"] is None and overall["previously_active_customers"] == 0
    assert overall["customer_lifetime_value"] is None and overall["paying_customers"] == 0
    assert overall["currency"] is None
