"""The routing live state (cs_backend/routing/live_state.py): both implementations keep the same queue,
holds, agents and teams; and on the real Redis, a flush in the middle of a busy queue loses nothing: the state
is rebuilt from SQL with the same order and assignments, and routing goes on from there."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import make_url

from cs_backend.app_keys import ROUTING_ENGINE
from cs_backend.config import Settings
from cs_backend.main import create_app
from cs_backend.routing.live_state import (
    Held,
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
    queue_score,
    routing_class,
)

from .routing_support import act, keep_queued, person, queue, request_handoff, set_profile
from .services import unique_name

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
# The flush test empties a whole Redis database: one of its own, so it cannot touch what other tests (the
# replay store, live events) keep in the default database.
FLUSHED_DATABASE = 13


def entry(request_id: int, priority: str = "normal", minutes: int = 0, **needs: Any) -> QueuedHandoff:
    score = queue_score(priority, False, False, T0 + timedelta(minutes=minutes))
    return QueuedHandoff(HandoffNeeds(request_id, needs.pop("language", "en"), **needs), score)


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def live_state(request: pytest.FixtureRequest) -> AsyncIterator[LiveState]:
    if request.param == "in-process":
        yield InProcessLiveState()
        return
    state = RedisLiveState(request.getfixturevalue("redis_url"), unique_name("cs_test_routing") + ":")
    try:
        yield state
    finally:
        keys = [key async for key in state._redis.scan_iter(match=state.keys.prefix + "*")]
        await state._redis.delete(*keys)
        await state.close()


async def test_the_queue_keeps_its_order_and_positions(live_state: LiveState) -> None:
    assert not await live_state.is_built()
    await live_state.replace_all(LiveSnapshot())
    assert await live_state.is_built()
    await live_state.enqueue(entry(1, "low"))
    await live_state.enqueue(entry(2, "normal", minutes=5))
    await live_state.enqueue(entry(3, "normal", minutes=1, skill="billing", excluded_agents=frozenset({9})))
    await live_state.enqueue(entry(4, "urgent", minutes=9))
    assert [e.needs.request_id for e in await live_state.queued()] == [4, 3, 2, 1]
    assert [await live_state.position(i) for i in (4, 3, 2, 1, 99)] == [1, 2, 3, 4, None]
    third = (await live_state.queued(1, 1))[0]
    assert third.needs == HandoffNeeds(3, "en", "billing", None, frozenset({9}))
    # Moving an entry (escalated) re-scores it rather than adding a second one.
    await live_state.enqueue(entry(1, "urgent"))
    assert [e.needs.request_id for e in await live_state.queued()] == [1, 4, 3, 2]
    await live_state.dequeue(4)
    await live_state.dequeue(4)
    assert await live_state.queue_length() == 3
    assert [e.needs.request_id for e in await live_state.queued(0, 2)] == [1, 3]


async def test_agents_teams_and_holds_round_trip(live_state: LiveState) -> None:
    agent = AgentState(7, "online", 3, 1, frozenset({"billing"}), frozenset({"en", "zh"}), 2, T0)
    team = TeamHours(2, "Asia/Shanghai", (OpeningHours(6, time(22, 0), time(2, 0)),))
    await live_state.replace_all(
        LiveSnapshot(agents=[agent], teams=[team], held={5: Held(7, "accepted")}, queued=[entry(6)])
    )
    assert await live_state.agents() == [agent]
    assert await live_state.teams() == {2: team}
    assert await live_state.held() == {5: Held(7, "accepted")}
    await live_state.hold(6, Held(7, "assigned"))
    await live_state.release(5)
    assert await live_state.held() == {6: Held(7, "assigned")}
    await live_state.put_agent(dataclasses.replace(agent, load=2, last_assigned_at=None))
    assert [a.load for a in await live_state.agents()] == [2]
    await live_state.remove_agent(7)
    await live_state.remove_team(2)
    assert await live_state.agents() == [] and await live_state.teams() == {}
    # A rebuild replaces everything, and invalidating asks for the next one.
    await live_state.replace_all(LiveSnapshot())
    assert await live_state.queue_length() == 0 and await live_state.held() == {}
    await live_state.invalidate()
    assert not await live_state.is_built()


def flushable_redis_url(redis_url: str) -> str:
    return make_url(redis_url).set(database=str(FLUSHED_DATABASE)).render_as_string(hide_password=False)


@pytest.mark.redis
async def test_a_redis_flush_in_a_busy_queue_loses_nothing(
    aiohttp_client: Any, settings: Settings, redis_url: str
) -> None:
    url = flushable_redis_url(redis_url)
    app = create_app(
        dataclasses.replace(settings, redis_url=url, routing_key_prefix=unique_name("cs_test_routing") + ":")
    )
    client: TestClient[Any, Any] = await aiohttp_client(app)
    admin = await person(client, "admin", "boss")
    agents = {}
    for name, languages in (("ann", ["en"]), ("li", ["zh", "en"]), ("bo", ["en"])):
        agents[name] = await person(client, "agent", name)
        await set_profile(client, admin, agents[name], capacity=2, languages=languages)
    priorities = ["low", "normal", "high", "urgent"]
    for number in range(40):
        await request_handoff(
            client,
            f"busy-{number}",
            priority=priorities[number % 4],
            at_risk=number % 3 == 0,
            high_value=number % 5 == 0,
            language="zh" if number % 7 == 0 else "en",
        )
    before = await queue(client, admin)
    assert before["total"] == 34 and len(before["held"]) == 6
    # Some offers accepted, one declined: holds in both states, and an exclusion to remember.
    held_by = {h["id"]: h["agent_id"] for h in before["held"]}
    owner = {a.account_id: a for a in agents.values()}
    first, second, third = list(held_by)[:3]
    await act(client, owner[held_by[first]], first, "accept")
    await act(client, owner[held_by[second]], second, "accept")
    await act(client, owner[held_by[third]], third, "decline")
    before = await queue(client, admin)
    engine = client.app[ROUTING_ENGINE]
    live_before = (await engine.live.held(), sorted(await engine.live.agents(), key=lambda a: a.account_id))
    queued_before = await engine.live.queued(0, 100)

    connection = redis.Redis.from_url(url)
    try:
        await connection.flushdb()
    finally:
        await connection.aclose()
    assert not await engine.live.is_built() and await engine.live.queue_length() == 0

    after = await queue(client, admin)  # the first read rebuilds from SQL
    assert after == before
    assert (
        await engine.live.held(),
        sorted(await engine.live.agents(), key=lambda a: a.account_id),
    ) == live_before
    assert await engine.live.queued(0, 100) == queued_before

    # Routing goes on from the rebuilt state: a freed slot goes to the head of what that agent can take.
    resolver = owner[held_by[first]]
    await act(client, resolver, first, "resolve")
    expected = next(
        h["id"]
        for h in before["items"]
        if (h["language"] == "en" or resolver == agents["li"])
        and resolver.account_id
        not in next(e for e in queued_before if e.needs.request_id == h["id"]).needs.excluded_agents
    )
    offered = await queue(client, admin)
    assert {h["id"]: h["agent_id"] for h in offered["held"]}[expected] == resolver.account_id
    assert offered["total"] == before["total"] - 1


async def test_with_redis_unreachable_handoffs_are_still_queued_and_read_from_sql(
    aiohttp_client: Any, settings: Settings
) -> None:
    """The queue is read from SQL while the live state cannot be reached: requests keep their answers."""
    app = create_app(dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"))
    client: TestClient[Any, Any] = await aiohttp_client(app)
    admin = await person(client, "admin", "boss")
    # An agent who fits is online, so the handoffs are queued (no offer is made while Redis is down).
    await set_profile(client, admin, await person(client, "agent", "ann"))
    low = await request_handoff(client, "down-low", priority="low")
    urgent = await request_handoff(client, "down-urgent", priority="urgent")
    assert (low["state"], urgent["state"]) == ("queued", "queued")
    assert (low["queue_position"], urgent["queue_position"]) == (
        1,
        1,
    )  # each read when it alone... was queued
    page = await queue(client, admin)
    assert [h["id"] for h in page["items"]] == [urgent["id"], low["id"]] and page["total"] == 2
    response = await client.get(f"/api/routing/handoffs/{low['id']}")
    assert (await response.json())["queue_position"] == 2


class FlakyLiveState(InProcessLiveState):
    """The in-process live state, unreachable while `down`: every public call raises, as a cut Redis does."""

    down = False

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if name.startswith("_") or not callable(attribute) or not object.__getattribute__(self, "down"):
            return attribute

        async def refused(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("live state unreachable")

        return refused


async def test_a_live_state_back_with_its_data_after_an_outage_is_rebuilt(
    aiohttp_client: Any, settings: Settings
) -> None:
    """A store cut off and back with its data still looks built, without the changes made meanwhile (not
    even the marker for a rebuild could be written): the engine rebuilds it on its next use."""
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    await keep_queued(client, await person(client, "admin", "boss"))
    engine = client.app[ROUTING_ENGINE]
    flaky = FlakyLiveState()
    engine.live = flaky
    await engine.rebuild()

    flaky.down = True
    during = await request_handoff(client, "during-outage")
    assert during["state"] == "queued"  # SQL took it
    flaky.down = False
    assert await flaky.is_built() and await flaky.position(during["id"]) is None

    after = await request_handoff(client, "after-outage")
    assert (await flaky.position(during["id"]), await flaky.position(after["id"])) == (1, 2)


async def true_class_heads(live_state: LiveState) -> list[tuple[str, QueuedHandoff]]:
    """Each routing class's first queued handoff, in queue order, from the whole queue."""
    heads: dict[str, QueuedHandoff] = {}
    for queued in await live_state.queued(0, 100_000):
        heads.setdefault(routing_class(queued.needs), queued)
    return list(heads.items())


async def heads_read(live_state: LiveState, page: int) -> list[tuple[str, QueuedHandoff]]:
    heads: list[tuple[str, QueuedHandoff]] = []
    while read := await live_state.class_heads(len(heads), page):
        heads += [(head.routing_class, head.entry) for head in read]
    return heads


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_class_heads_follow_every_change_to_the_queue(live_state: LiveState, seed: int) -> None:
    """The class heads (a sorted set of their own on Redis) are kept by each change, never worked out from
    the queue when read: after any mix of changes they are the first handoff of each class, in queue order,
    with equal scores in request order."""
    rng = random.Random(seed)

    def random_entry(request_id: int) -> QueuedHandoff:
        # Few distinct minutes: many equal scores, whose order is the request id's.
        return entry(
            request_id,
            rng.choice(["urgent", "normal", "low"]),
            minutes=rng.randint(0, 3),
            language=rng.choice(["en", "zh"]),
            skill=rng.choice([None, "billing", "api"]),
            team_id=rng.choice([None, 2]),
            excluded_agents=frozenset(rng.sample(range(1, 6), rng.randint(0, 2))),
        )

    agent = AgentState(7, "online", 90, 0, frozenset({"billing"}), frozenset({"en"}))
    await live_state.replace_all(LiveSnapshot(queued=[random_entry(i) for i in range(1, 41)], agents=[agent]))
    assert await heads_read(live_state, 5) == await true_class_heads(live_state)
    for step in range(150):
        queued = [e.needs.request_id for e in await live_state.queued(0, 1000)]
        change = rng.random()
        if change < 0.4 or not queued:
            # a new handoff, or a queued one again with a new score and maybe another class and exclusions
            await live_state.enqueue(random_entry(rng.choice([100 + step, *queued[:5]])))
        elif change < 0.6:
            await live_state.dequeue(rng.choice([*queued, 999]))
        elif change < 0.9:
            head = rng.choice(await live_state.class_heads(0, 1000))
            agent = dataclasses.replace(agent, load=agent.load + 1)
            await live_state.offer(head.entry.needs, Held(agent.account_id, "assigned"), agent)
        else:
            snapshot = LiveSnapshot(queued=await live_state.queued(0, 1000), agents=[agent])
            await live_state.replace_all(snapshot)
        expected = await true_class_heads(live_state)
        assert await heads_read(live_state, rng.randint(1, 4)) == expected, f"step {step}"
        view = await live_state.routing_view(3)
        assert [(head.routing_class, head.entry) for head in view.heads] == expected[:3]
        assert view.agents == [agent]


@pytest.mark.redis
async def test_a_handoff_changed_by_another_process_meanwhile_leaves_its_class_once(redis_url: str) -> None:
    """enqueue and dequeue read where the handoff is queued, then move it in one script run; when another
    process moved it between the two, the script changes nothing and they read again."""
    prefix = unique_name("cs_test_routing") + ":"
    state, other = RedisLiveState(redis_url, prefix), RedisLiveState(redis_url, prefix)
    try:
        await state.replace_all(LiveSnapshot(queued=[entry(1), entry(2, minutes=1)]))
        read_needs = state._redis.hget
        moves = [entry(1, minutes=2, language="zh"), entry(2, minutes=3, skill="api")]

        async def read_then_other_moves_it(name: str, key: str) -> Any:
            value = await read_needs(name, key)
            if moves:
                await other.enqueue(moves.pop(0))
            return value

        state._redis.hget = read_then_other_moves_it  # type: ignore[method-assign]
        await state.enqueue(entry(1, "urgent", skill="billing"))
        await state.dequeue(2)
        assert [e.needs.request_id for e in await state.queued()] == [1]
        assert await true_class_heads(state) == [("en|billing|", entry(1, "urgent", skill="billing"))]
        assert [(h.routing_class, h.entry) for h in await state.class_heads(0, 10)] == await true_class_heads(
            state
        )
        for name in ("en||", "zh||", "en|api|"):
            assert await state.class_page(name, 0, 10) == []
    finally:
        keys = [key async for key in state._redis.scan_iter(match=prefix + "*")]
        await state._redis.delete(*keys)
        await state.close()
        await other.close()


@pytest.mark.redis
async def test_a_state_laid_out_by_an_older_version_is_rebuilt(redis_url: str) -> None:
    """A `built` marker without this version's layout (a Redis filled before the class heads existed) reads
    as not built, so the state is rebuilt from SQL before a decision reads heads it never had."""
    state = RedisLiveState(redis_url, unique_name("cs_test_routing") + ":")
    try:
        await state.replace_all(LiveSnapshot(queued=[entry(1)]))
        assert await state.is_built()
        await state._redis.set(state.keys.built, "0123456789abcdef")  # an older version's marker
        assert not await state.is_built()
    finally:
        keys = [key async for key in state._redis.scan_iter(match=state.keys.prefix + "*")]
        await state._redis.delete(*keys)
        await state.close()
