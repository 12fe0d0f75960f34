"""The live routing state: the queue in order, the handoffs held by agents, agents' presence and load, and the
teams' hours. SQL is the source of truth; this is the fast copy every routing decision reads.

One protocol, two implementations, chosen by REDIS_URL (`create_live_state`, as for live events):
- RedisLiveState: shared by every backend process. Keys (prefix `cs_backend:routing:` by default):
  `queue` a sorted set of queued handoff ids scored by selection.queue_score; `needs` a hash handoff id →
  what it asks of its agent (JSON); `held` a hash handoff id → its agent and state (JSON); `agents` a hash
  account id → profile, presence and load (JSON); `teams` a hash team id → time zone and hours (JSON);
  `built` set once a rebuild from SQL wrote all of the above.
- InProcessLiveState: the same in this process's memory (the embedded default, one backend process).

A state without its `built` marker (a new or flushed Redis, a process start) is rebuilt from SQL by
service.RoutingEngine before it is used (`replace_all`), so a Redis loss loses nothing.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Protocol, cast

import redis.asyncio as redis

from cs_backend.routing.selection import AgentState, HandoffNeeds, OpeningHours, TeamHours

DEFAULT_KEY_PREFIX = "cs_backend:routing:"
REDIS_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Held:
    """A handoff offered to (assigned) or live with (accepted) an agent."""

    agent_id: int
    state: str


@dataclass(frozen=True)
class QueuedHandoff:
    needs: HandoffNeeds
    score: float


@dataclass
class LiveSnapshot:
    """Everything the live state holds, as read from SQL by the rebuild."""

    queued: list[QueuedHandoff] = field(default_factory=list)
    held: dict[int, Held] = field(default_factory=dict)
    agents: list[AgentState] = field(default_factory=list)
    teams: list[TeamHours] = field(default_factory=list)


class LiveState(Protocol):
    async def is_built(self) -> bool:
        """False when the state must be rebuilt from SQL (never built, or lost)."""

    async def replace_all(self, snapshot: LiveSnapshot) -> None:
        """Replace everything with `snapshot` in one step, and mark the state built."""

    async def invalidate(self) -> None:
        """Mark the state for a rebuild (after an update that may have been lost halfway)."""

    async def enqueue(self, entry: QueuedHandoff) -> None:
        """Put the handoff in the queue at its score (or move it there)."""

    async def dequeue(self, request_id: int) -> None: ...

    async def queued(self, start: int = 0, count: int = 100) -> list[QueuedHandoff]:
        """Queued handoffs in queue order, from the 0-based `start`."""

    async def queue_length(self) -> int: ...

    async def position(self, request_id: int) -> int | None:
        """1-based position in the queue; None when not queued."""

    async def hold(self, request_id: int, held: Held) -> None: ...

    async def release(self, request_id: int) -> None: ...

    async def held(self) -> dict[int, Held]: ...

    async def put_agent(self, agent: AgentState) -> None: ...

    async def remove_agent(self, account_id: int) -> None: ...

    async def agents(self) -> list[AgentState]: ...

    async def put_team(self, team: TeamHours) -> None: ...

    async def remove_team(self, team_id: int) -> None: ...

    async def teams(self) -> dict[int, TeamHours]: ...

    async def check(self) -> None:
        """Raise if the state cannot be used (for /health/ready)."""

    async def close(self) -> None: ...


# --- JSON forms of the values (Redis stores text) ---------------------------------------------------------


def _time_text(value: time) -> str:
    return value.strftime("%H:%M")


def encode_agent(agent: AgentState) -> str:
    return json.dumps(
        {
            "id": agent.account_id,
            "status": agent.status,
            "capacity": agent.capacity,
            "load": agent.load,
            "skills": sorted(agent.skills),
            "languages": sorted(agent.languages),
            "team": agent.team_id,
            "last": agent.last_assigned_at.isoformat() if agent.last_assigned_at else None,
        },
        separators=(",", ":"),
    )


def decode_agent(data: str | bytes) -> AgentState:
    value = json.loads(data)
    return AgentState(
        account_id=value["id"],
        status=value["status"],
        capacity=value["capacity"],
        load=value["load"],
        skills=frozenset(value["skills"]),
        languages=frozenset(value["languages"]),
        team_id=value["team"],
        last_assigned_at=datetime.fromisoformat(value["last"]) if value["last"] else None,
    )


def encode_team(team: TeamHours) -> str:
    openings = [[o.weekday, _time_text(o.opens), _time_text(o.closes)] for o in team.openings]
    return json.dumps({"id": team.team_id, "tz": team.time_zone, "hours": openings}, separators=(",", ":"))


def decode_team(data: str | bytes) -> TeamHours:
    value = json.loads(data)
    openings = tuple(
        OpeningHours(weekday, time.fromisoformat(opens), time.fromisoformat(closes))
        for weekday, opens, closes in value["hours"]
    )
    return TeamHours(team_id=value["id"], time_zone=value["tz"], openings=openings)


def encode_needs(needs: HandoffNeeds) -> str:
    return json.dumps(
        {
            "id": needs.request_id,
            "lang": needs.language,
            "skill": needs.skill,
            "team": needs.team_id,
            "excluded": sorted(needs.excluded_agents),
        },
        separators=(",", ":"),
    )


def decode_needs(data: str | bytes) -> HandoffNeeds:
    value = json.loads(data)
    return HandoffNeeds(
        request_id=value["id"],
        language=value["lang"],
        skill=value["skill"],
        team_id=value["team"],
        excluded_agents=frozenset(value["excluded"]),
    )


def encode_held(held: Held) -> str:
    return json.dumps({"agent": held.agent_id, "state": held.state}, separators=(",", ":"))


def decode_held(data: str | bytes) -> Held:
    value = json.loads(data)
    return Held(agent_id=value["agent"], state=value["state"])


# --- In-process -------------------------------------------------------------------------------------------


class InProcessLiveState:
    """The live state in this process's memory: one backend process (the embedded default)."""

    def __init__(self) -> None:
        self._built = False
        # (score, request id), kept sorted: the queue order.
        self._order: list[tuple[float, int]] = []
        self._queued: dict[int, QueuedHandoff] = {}
        self._held: dict[int, Held] = {}
        self._agents: dict[int, AgentState] = {}
        self._teams: dict[int, TeamHours] = {}

    async def is_built(self) -> bool:
        return self._built

    async def replace_all(self, snapshot: LiveSnapshot) -> None:
        self._queued = {entry.needs.request_id: entry for entry in snapshot.queued}
        self._order = sorted((entry.score, request_id) for request_id, entry in self._queued.items())
        self._held = dict(snapshot.held)
        self._agents = {agent.account_id: agent for agent in snapshot.agents}
        self._teams = {team.team_id: team for team in snapshot.teams}
        self._built = True

    async def invalidate(self) -> None:
        self._built = False

    async def enqueue(self, entry: QueuedHandoff) -> None:
        await self.dequeue(entry.needs.request_id)
        self._queued[entry.needs.request_id] = entry
        bisect.insort(self._order, (entry.score, entry.needs.request_id))

    async def dequeue(self, request_id: int) -> None:
        entry = self._queued.pop(request_id, None)
        if entry is None:
            return
        index = bisect.bisect_left(self._order, (entry.score, request_id))
        del self._order[index]

    async def queued(self, start: int = 0, count: int = 100) -> list[QueuedHandoff]:
        return [self._queued[request_id] for _, request_id in self._order[start : start + count]]

    async def queue_length(self) -> int:
        return len(self._order)

    async def position(self, request_id: int) -> int | None:
        entry = self._queued.get(request_id)
        if entry is None:
            return None
        return bisect.bisect_left(self._order, (entry.score, request_id)) + 1

    async def hold(self, request_id: int, held: Held) -> None:
        self._held[request_id] = held

    async def release(self, request_id: int) -> None:
        self._held.pop(request_id, None)

    async def held(self) -> dict[int, Held]:
        return dict(self._held)

    async def put_agent(self, agent: AgentState) -> None:
        self._agents[agent.account_id] = agent

    async def remove_agent(self, account_id: int) -> None:
        self._agents.pop(account_id, None)

    async def agents(self) -> list[AgentState]:
        return list(self._agents.values())

    async def put_team(self, team: TeamHours) -> None:
        self._teams[team.team_id] = team

    async def remove_team(self, team_id: int) -> None:
        self._teams.pop(team_id, None)

    async def teams(self) -> dict[int, TeamHours]:
        return dict(self._teams)

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None


# --- Redis ------------------------------------------------------------------------------------------------


def _member(request_id: int) -> str:
    # Zero-padded: members of equal score sort by text, which is then the id order (the older request first).
    return f"{request_id:010d}"


class RedisLiveState:
    """The live state in Redis (keys in the module docstring), shared by every backend process."""

    def __init__(self, url: str, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )
        self.keys = RedisKeys(key_prefix)

    async def is_built(self) -> bool:
        return bool(await self._redis.exists(self.keys.built))

    async def replace_all(self, snapshot: LiveSnapshot) -> None:
        keys = self.keys
        # MULTI/EXEC: other processes see the old state or the new one, never half of it.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.queue, keys.needs, keys.held, keys.agents, keys.teams, keys.built)
            if snapshot.queued:
                pipe.zadd(keys.queue, {_member(e.needs.request_id): e.score for e in snapshot.queued})
                pipe.hset(
                    keys.needs, mapping={e.needs.request_id: encode_needs(e.needs) for e in snapshot.queued}
                )
            if snapshot.held:
                pipe.hset(keys.held, mapping={rid: encode_held(h) for rid, h in snapshot.held.items()})
            if snapshot.agents:
                pipe.hset(keys.agents, mapping={a.account_id: encode_agent(a) for a in snapshot.agents})
            if snapshot.teams:
                pipe.hset(keys.teams, mapping={t.team_id: encode_team(t) for t in snapshot.teams})
            pipe.set(keys.built, "1")
            await pipe.execute()

    async def invalidate(self) -> None:
        await self._redis.delete(self.keys.built)

    async def enqueue(self, entry: QueuedHandoff) -> None:
        request_id = entry.needs.request_id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.keys.queue, {_member(request_id): entry.score})
            pipe.hset(self.keys.needs, str(request_id), encode_needs(entry.needs))
            await pipe.execute()

    async def dequeue(self, request_id: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.queue, _member(request_id))
            pipe.hdel(self.keys.needs, str(request_id))
            await pipe.execute()

    async def queued(self, start: int = 0, count: int = 100) -> list[QueuedHandoff]:
        # redis-py's types cover every reply shape; with withscores these are (member, score) pairs.
        members = cast(
            list[tuple[bytes, float]],
            await self._redis.zrange(self.keys.queue, start, start + count - 1, withscores=True),
        )
        if not members:
            return []
        ids = [int(member) for member, _ in members]
        needs = cast(list[bytes | None], await self._redis.hmget(self.keys.needs, [str(i) for i in ids]))
        return [
            QueuedHandoff(decode_needs(data), float(score))
            for (_, score), data in zip(members, needs, strict=True)
            if data is not None
        ]

    async def queue_length(self) -> int:
        return int(await self._redis.zcard(self.keys.queue))

    async def position(self, request_id: int) -> int | None:
        rank = cast(int | None, await self._redis.zrank(self.keys.queue, _member(request_id)))
        return None if rank is None else rank + 1

    async def hold(self, request_id: int, held: Held) -> None:
        await self._redis.hset(self.keys.held, str(request_id), encode_held(held))

    async def release(self, request_id: int) -> None:
        await self._redis.hdel(self.keys.held, str(request_id))

    async def held(self) -> dict[int, Held]:
        raw = await self._redis.hgetall(self.keys.held)
        return {int(request_id): decode_held(data) for request_id, data in raw.items()}

    async def put_agent(self, agent: AgentState) -> None:
        await self._redis.hset(self.keys.agents, str(agent.account_id), encode_agent(agent))

    async def remove_agent(self, account_id: int) -> None:
        await self._redis.hdel(self.keys.agents, str(account_id))

    async def agents(self) -> list[AgentState]:
        return [decode_agent(data) for data in (await self._redis.hgetall(self.keys.agents)).values()]

    async def put_team(self, team: TeamHours) -> None:
        await self._redis.hset(self.keys.teams, str(team.team_id), encode_team(team))

    async def remove_team(self, team_id: int) -> None:
        await self._redis.hdel(self.keys.teams, str(team_id))

    async def teams(self) -> dict[int, TeamHours]:
        raw = await self._redis.hgetall(self.keys.teams)
        return {int(team_id): decode_team(data) for team_id, data in raw.items()}

    async def check(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    @property
    def queue(self) -> str:
        return self.prefix + "queue"

    @property
    def needs(self) -> str:
        return self.prefix + "needs"

    @property
    def held(self) -> str:
        return self.prefix + "held"

    @property
    def agents(self) -> str:
        return self.prefix + "agents"

    @property
    def teams(self) -> str:
        return self.prefix + "teams"

    @property
    def built(self) -> str:
        return self.prefix + "built"

    def all(self) -> list[str]:
        return [self.queue, self.needs, self.held, self.agents, self.teams, self.built]


def create_live_state(redis_url: str | None, key_prefix: str = DEFAULT_KEY_PREFIX) -> LiveState:
    if redis_url:
        return RedisLiveState(redis_url, key_prefix)
    return InProcessLiveState()
