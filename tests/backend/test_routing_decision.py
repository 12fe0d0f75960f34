"""One routing decision (cs_backend/routing/decision.py) reads only the heads of the routing classes some
agent can serve; it must still pick exactly what a scan of the whole queue in order would pick. Checked
against that scan, decision after decision, on a generated busy state (closed teams, exclusions, full
agents), on both live-state implementations."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from cs_backend.routing.decision import Decision, next_decision, record_decision
from cs_backend.routing.live_state import (
    InProcessLiveState,
    LiveSnapshot,
    LiveState,
    QueuedHandoff,
    RedisLiveState,
)
from cs_backend.routing.selection import (
    AgentState,
    HandoffNeeds,
    OpeningHours,
    TeamHours,
    choose_agent,
    queue_score,
)

from .services import unique_name

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PRIORITIES = ["urgent", "high", "normal", "low"]


def generated_state(rng: random.Random) -> LiveSnapshot:
    teams = [
        TeamHours(1, "UTC", tuple(OpeningHours(d, time(8), time(20)) for d in range(7))),  # open
        TeamHours(2, "Asia/Tokyo", tuple(OpeningHours(d, time(8), time(12)) for d in range(7))),  # closed
        TeamHours(3, "America/New_York", ()),  # never open
    ]
    agents = [
        AgentState(
            account_id=i,
            status=rng.choice(["online", "online", "online", "away"]),
            capacity=rng.randint(2, 4),
            load=rng.randint(0, 2),
            skills=frozenset(rng.sample(["billing", "technical", "api"], rng.randint(1, 2))),
            languages=frozenset(rng.sample(["en", "zh", "es"], rng.randint(1, 2))),
            team_id=rng.choice([None, 1, 2, 3]),
            last_assigned_at=NOW - timedelta(seconds=rng.randint(0, 100)) if rng.random() < 0.5 else None,
        )
        for i in range(1, 16)
    ]
    queued = [entry(rng, i) for i in range(1, 301)]
    return LiveSnapshot(queued=queued, agents=agents, teams=teams)


def entry(rng: random.Random, request_id: int) -> QueuedHandoff:
    needs = HandoffNeeds(
        request_id=request_id,
        language=rng.choice(["en", "en", "zh", "es", "fr"]),
        skill=rng.choice([None, "billing", "technical", "api"]),
        team_id=rng.choice([None, None, 1, 2, 3]),
        excluded_agents=frozenset(rng.sample(range(1, 16), rng.randint(0, 8))),
    )
    queued_at = NOW - timedelta(seconds=rng.randint(0, 600))
    return QueuedHandoff(needs, queue_score(rng.choice(PRIORITIES), rng.random() < 0.2, False, queued_at))


async def whole_queue_scan(live: LiveState) -> tuple[int, int] | None:
    agents, teams = await live.agents(), await live.teams()
    for queued in await live.queued(0, 100_000):
        agent = choose_agent(queued.needs, agents, teams, NOW)
        if agent is not None:
            return queued.needs.request_id, agent.account_id
    return None


def picked(decision: Decision | None) -> tuple[int, int] | None:
    return None if decision is None else (decision.entry.needs.request_id, decision.agent.account_id)


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def live_state(request: pytest.FixtureRequest) -> AsyncIterator[LiveState]:
    if request.param == "in-process":
        yield InProcessLiveState()
        return
    prefix = unique_name("cs_test_routing") + ":"
    state = RedisLiveState(request.getfixturevalue("redis_url"), prefix)
    try:
        yield state
    finally:
        keys = [key async for key in state._redis.scan_iter(match=prefix + "*")]
        if keys:
            await state._redis.delete(*keys)
        await state.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_each_decision_is_what_a_scan_of_the_whole_queue_would_pick(
    live_state: LiveState, seed: int
) -> None:
    rng = random.Random(seed)
    await live_state.replace_all(generated_state(rng))
    decisions = 0
    next_id = 1000
    for step in range(120):
        expected = await whole_queue_scan(live_state)
        decision = await next_decision(live_state, NOW)
        assert picked(decision) == expected, f"step {step}"
        if decision is None:
            break
        decisions += 1
        await record_decision(live_state, decision, NOW)
        if step % 3:  # mostly the agent finishes at once and someone new waits
            await live_state.release(decision.entry.needs.request_id)
            await live_state.put_agent(
                replace(decision.agent, last_assigned_at=NOW + timedelta(seconds=step))
            )
            await live_state.enqueue(entry(rng, next_id))
            next_id += 1
    assert decisions > 20
