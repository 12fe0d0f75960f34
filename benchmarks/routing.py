"""Time one routing decision with a busy queue, on both live-state implementations, and write the figures to
BENCHMARKS.md.  Run: `make bench-routing` (= `python -m benchmarks.routing`).

A decision is what RoutingEngine.dispatch does for each offer, less the SQL commit between the two halves:
`decision.next_decision` (read the agents, the teams and the first class heads from the live state; the
first queued handoff, in queue order, with an eligible agent; that agent by least load and round robin) and
`decision.record_decision` (the offer written back: out of the queue, held, the agent's load up by one).

The state: QUEUED handoffs and AGENTS agents drawn from a seeded generator (mixed languages, skills, teams
with and without business hours in several time zones, capacities, loads, statuses, priorities and
exclusions). After each timed decision, untimed, the agent finishes (their load goes back) and a new handoff
joins the tail, so every decision sees the same sizes. Redis: REDIS_URL, default redis://127.0.0.1:6379/0,
under a key prefix of this run that is deleted afterwards.

The last line printed is `route_p99_ms=<n> queued=<n> agents=<n>` (the Redis figure). Target: p99 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time as clock
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from benchmarks.report import git_commit, replace_section
from cs_backend.routing.decision import next_decision, record_decision
from cs_backend.routing.live_state import (
    InProcessLiveState,
    LiveSnapshot,
    LiveState,
    QueuedHandoff,
    RedisLiveState,
)
from cs_backend.routing.models import PRIORITIES
from cs_backend.routing.selection import AgentState, HandoffNeeds, OpeningHours, TeamHours, queue_score
from launcher.stack import REPO_ROOT

SECTION = "routing"
QUEUED = 10_000
AGENTS = 500
TEAMS = 12
DECISIONS = 2_000
WARM_UP = 100
SKILLS = ["billing", "technical", "account", "shipping", "returns", "api", "security", "sales", "onboarding"]
LANGUAGES = ["en", "zh", "es", "fr", "de", "ja"]
ZONES = ["Europe/Paris", "America/New_York", "Asia/Shanghai", "Asia/Tokyo", "UTC", "America/Los_Angeles"]
NOW = datetime.now(UTC)


def teams(rng: random.Random) -> list[TeamHours]:
    result = []
    for team_id in range(1, TEAMS + 1):
        if team_id % 3 == 0:  # around the clock: 00:00-00:00 runs to the next midnight
            openings = tuple(OpeningHours(day, time(0, 0), time(0, 0)) for day in range(7))
        else:
            openings = tuple(OpeningHours(day, time(8, 0), time(20, 0)) for day in range(6))
        result.append(TeamHours(team_id, rng.choice(ZONES), openings))
    return result


def agents(rng: random.Random) -> list[AgentState]:
    result = []
    for account_id in range(1, AGENTS + 1):
        capacity = rng.randint(3, 6)
        result.append(
            AgentState(
                account_id=account_id,
                status=rng.choices(["online", "away", "offline"], [8, 1, 1])[0],
                capacity=capacity,
                load=rng.randint(0, capacity),
                skills=frozenset(rng.sample(SKILLS, rng.randint(2, 4))),
                languages=frozenset({"en", rng.choice(LANGUAGES)}),
                team_id=rng.randint(1, TEAMS) if rng.random() < 0.9 else None,
                last_assigned_at=(NOW - timedelta(seconds=rng.randint(0, 3600)))
                if rng.random() < 0.8
                else None,
            )
        )
    return result


def handoff(rng: random.Random, request_id: int, queued_at: datetime) -> QueuedHandoff:
    needs = HandoffNeeds(
        request_id=request_id,
        language=rng.choices(LANGUAGES, [14, 2, 1, 1, 1, 1])[0],
        skill=rng.choice(SKILLS) if rng.random() < 0.9 else None,
        team_id=rng.randint(1, TEAMS) if rng.random() < 0.1 else None,
        excluded_agents=frozenset(rng.sample(range(1, AGENTS + 1), rng.randint(0, 2))),
    )
    priority = rng.choices(PRIORITIES, [1, 3, 10, 4])[0]
    score = queue_score(priority, rng.random() < 0.1, rng.random() < 0.1, queued_at)
    return QueuedHandoff(needs, score)


def snapshot(rng: random.Random) -> LiveSnapshot:
    queued = [handoff(rng, i, NOW - timedelta(seconds=rng.randint(0, 7200))) for i in range(1, QUEUED + 1)]
    return LiveSnapshot(queued=queued, agents=agents(rng), teams=teams(rng))


@dataclass(frozen=True)
class Timing:
    p50: float
    p95: float
    p99: float
    worst: float
    decisions: int


async def measure(live: LiveState) -> Timing:
    rng = random.Random(20261130)
    await live.replace_all(snapshot(rng))
    next_id = QUEUED + 1
    samples = []
    for step in range(WARM_UP + DECISIONS):
        started = clock.perf_counter()
        decision = await next_decision(live, NOW)
        if decision is None:
            raise SystemExit("no decision possible: the generated state has no eligible agent left")
        await record_decision(live, decision, NOW)
        elapsed = clock.perf_counter() - started
        if step >= WARM_UP:
            samples.append(elapsed * 1000)
        # Untimed: the agent finishes it (load back, the rotation remembers them), a new handoff arrives.
        await live.release(decision.entry.needs.request_id)
        await live.put_agent(replace(decision.agent, last_assigned_at=NOW + timedelta(milliseconds=step)))
        await live.enqueue(handoff(rng, next_id, NOW + timedelta(milliseconds=step)))
        next_id += 1
    assert await live.queue_length() == QUEUED
    cuts = statistics.quantiles(samples, n=100)
    return Timing(cuts[49], cuts[94], cuts[98], max(samples), len(samples))


def render(results: dict[str, Timing], redis_url: str, load: str) -> str:
    rows = "\n".join(
        f"| {name} | {t.p50:.2f} ms | {t.p95:.2f} ms | {t.p99:.2f} ms | {t.worst:.2f} ms | {t.decisions} |"
        for name, t in results.items()
    )
    redis_p99 = results["Redis"].p99
    verdict = "✅" if redis_p99 <= 5 else "❌"
    return f"""## Routing decision

Written by `make bench-routing` (`python -m benchmarks.routing`, source in `benchmarks/routing.py`); do not
edit by hand. One decision (cs_backend/routing/decision.py): read the agents, teams and first routing-class
heads from the live state (one round trip on Redis), pick the first queued handoff with an eligible agent and
that agent, write the offer back (one more). The SQL commit of the offer, which RoutingEngine.dispatch makes
between the two halves, is not included.

- Measured: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, CPython \
{platform.python_version()}, commit `{git_commit()}`; Redis at `{redis_url}` (same machine, redis-py \
without hiredis); load average {load} at the end (other jobs ran alongside).
- State: {QUEUED:,} queued handoffs, {AGENTS} agents, {TEAMS} teams; {DECISIONS:,} timed decisions after \
{WARM_UP} untimed ones, the sizes kept constant between them.

| live state | p50 | p95 | p99 | worst | decisions |
|---|---|---|---|---|---|
{rows}

Target: p99 ≤ 5 ms on Redis: {redis_p99:.2f} ms {verdict}
"""


async def run(redis_url: str) -> dict[str, Timing]:
    results = {"in-process": await measure(InProcessLiveState())}
    redis_state = RedisLiveState(redis_url, f"cs_bench_routing_{uuid.uuid4().hex[:8]}:")
    try:
        await redis_state.check()
        results["Redis"] = await measure(redis_state)
    finally:
        keys = [key async for key in redis_state._redis.scan_iter(match=redis_state.keys.prefix + "*")]
        if keys:
            await redis_state._redis.delete(*keys)
        await redis_state.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "").strip() or "redis://127.0.0.1:6379/0"
    results = asyncio.run(run(redis_url))
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    for name, t in results.items():
        print(f"{name}: p50 {t.p50:.2f} ms, p95 {t.p95:.2f} ms, p99 {t.p99:.2f} ms", flush=True)
    replace_section(SECTION, render(results, redis_url, load), args.output)
    print(f"wrote {args.output}")
    print(f"route_p99_ms={results['Redis'].p99:.2f} queued={QUEUED} agents={AGENTS}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    main()
