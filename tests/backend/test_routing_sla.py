"""The SLA timers of handoffs (cs_backend/routing/jobs.py) with an injected clock: a lapsed offer goes to the
next eligible agent and never back, an unanswered handoff is taken from its agent, an overdue one is
escalated once; every breach is recorded, raises the priority and is published."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from cs_backend.app_keys import DATABASE, LIVE_EVENTS, ROUTING_ENGINE
from cs_backend.config import Settings
from cs_backend.jobs import run_once
from cs_backend.routing.jobs import SlaTimers, check_slas, sla_job
from cs_backend.routing.models import SlaBreach

from .routing_support import FakeClock, act, handoff, keep_queued, person, request_handoff, set_profile

TIMERS = SlaTimers(
    accept=timedelta(seconds=60), first_response=timedelta(seconds=120), resolution=timedelta(hours=1)
)


async def with_clock(client: TestClient[Any, Any]) -> FakeClock:
    clock = FakeClock()
    client.app[ROUTING_ENGINE].clock = clock
    return clock


async def breaches(client: TestClient[Any, Any]) -> list[tuple[int, str, int | None, str, str]]:
    async with client.app[DATABASE].sessions() as session:
        rows = await session.scalars(select(SlaBreach).order_by(SlaBreach.id))
        return [(b.handoff_id, b.kind, b.agent_id, b.priority_before, b.priority_after) for b in rows]


async def test_a_lapsed_offer_goes_to_the_next_agent_and_never_back(client: TestClient[Any, Any]) -> None:
    clock = await with_clock(client)
    engine = client.app[ROUTING_ENGINE]
    admin = await person(client, "admin", "boss")
    slow, next_one = await person(client, "agent", "slow"), await person(client, "agent", "next")
    await set_profile(client, admin, slow)
    await set_profile(client, admin, next_one)
    created = await request_handoff(client, "lapse")
    assert created["agent_id"] == slow.account_id

    clock.advance(seconds=59)
    run = await check_slas(engine, TIMERS, clock())
    assert run.breaches == 0 and (await handoff(client, created["id"]))["agent_id"] == slow.account_id

    async with client.app[LIVE_EVENTS].subscribe() as subscription:
        clock.advance(seconds=1)
        run = await check_slas(engine, TIMERS, clock())
        event = await asyncio.wait_for(subscription.next(), 5)
    assert run.breaches == 1 and run.requeued == 1
    assert event is not None and event.type == "handoff.sla_breached" and event.payload["kind"] == "accept"
    moved = await handoff(client, created["id"])
    assert moved["state"] == "assigned" and moved["agent_id"] == next_one.account_id
    assert moved["priority"] == "high"  # escalated from normal
    assert moved["offered_at"].startswith("2026-11-25T10:01:00")  # offered anew, at the breach
    await act(client, slow, created["id"], "accept", status=403)

    # The second agent lets it lapse too: nobody is left, it waits, escalated again.
    clock.advance(seconds=60)
    await check_slas(engine, TIMERS, clock())
    waiting = await handoff(client, created["id"])
    assert waiting["state"] == "queued" and waiting["priority"] == "urgent" and waiting["queue_position"] == 1
    assert await breaches(client) == [
        (created["id"], "accept", slow.account_id, "normal", "high"),
        (created["id"], "accept", next_one.account_id, "high", "urgent"),
    ]
    # Coming back online does not bring it back to either of them.
    await client.put("/api/routing/agents/me/status", json={"status": "online"}, headers=slow.headers)
    assert (await handoff(client, created["id"]))["state"] == "queued"


async def test_an_accepted_handoff_without_a_first_answer_goes_to_someone_else(
    client: TestClient[Any, Any],
) -> None:
    clock = await with_clock(client)
    engine = client.app[ROUTING_ENGINE]
    admin = await person(client, "admin", "boss")
    silent, answering = await person(client, "agent", "silent"), await person(client, "agent", "answers")
    await set_profile(client, admin, silent)
    await set_profile(client, admin, answering)
    quiet = await request_handoff(client, "quiet")
    answered = await request_handoff(client, "answered")
    assert (quiet["agent_id"], answered["agent_id"]) == (silent.account_id, answering.account_id)
    await act(client, silent, quiet["id"], "accept")
    await act(client, answering, answered["id"], "accept")
    clock.advance(seconds=30)
    await act(client, answering, answered["id"], "first-response")

    clock.advance(seconds=91)  # 121 s after acceptance
    run = await check_slas(engine, TIMERS, clock())
    assert run.breaches == 1
    moved = await handoff(client, quiet["id"])
    assert moved["agent_id"] == answering.account_id and moved["state"] == "assigned"
    assert moved["accepted_at"] is None and moved["priority"] == "high"
    assert (await handoff(client, answered["id"]))["state"] == "accepted"
    assert await breaches(client) == [(quiet["id"], "first_response", silent.account_id, "normal", "high")]


async def test_an_overdue_handoff_is_escalated_once(client: TestClient[Any, Any]) -> None:
    clock = await with_clock(client)
    engine = client.app[ROUTING_ENGINE]
    admin = await person(client, "admin", "boss")
    release = await keep_queued(client, admin)
    older = await request_handoff(client, "older", priority="low")
    clock.advance(minutes=30)
    newer = await request_handoff(client, "newer", priority="normal")
    await release()
    page = await (await client.get("/api/routing/queue", headers=admin.headers)).json()
    assert [h["id"] for h in page["items"]] == [newer["id"], older["id"]]

    clock.advance(minutes=31)  # the older one has waited more than an hour
    assert (await check_slas(engine, TIMERS, clock())).breaches == 1
    clock.advance(minutes=10)
    assert (await check_slas(engine, TIMERS, clock())).breaches == 0  # once per handoff
    assert await breaches(client) == [(older["id"], "resolution", None, "low", "normal")]
    # Escalated to normal, it now waits ahead of the newer normal one.
    page = await (await client.get("/api/routing/queue", headers=admin.headers)).json()
    assert [h["id"] for h in page["items"]] == [older["id"], newer["id"]]


async def test_the_job_runs_the_checks_with_its_clock_and_the_settings_timers(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    clock = await with_clock(client)
    engine = client.app[ROUTING_ENGINE]
    admin = await person(client, "admin", "boss")
    agent = await person(client, "agent", "ann")
    await set_profile(client, admin, agent)
    created = await request_handoff(client, "job")
    job = sla_job(
        engine, dataclasses.replace(settings, routing_accept_seconds=5, routing_sla_interval_seconds=1)
    )
    assert job.interval_seconds == 1 and job.run_at_start
    clock.advance(seconds=4)
    assert (await run_once(job, clock)).breaches == 0  # type: ignore[union-attr]
    clock.advance(seconds=1)
    run = await run_once(job, clock)
    assert run is not None and run.breaches == 1
    assert (await handoff(client, created["id"]))["state"] == "queued"
