"""The live routing state: the queue in order, the handoffs held by agents, agents' presence and load, and the
teams' hours. SQL is the source of truth; this is the fast copy every routing decision reads.

One protocol, two implementations, chosen by REDIS_URL (`create_live_state`, as for live events):
- RedisLiveState: shared by every backend process. Keys (prefix `cs_backend:routing:` by default):
  `queue` a sorted set of queued handoff ids scored by selection.queue_score; `queue:<class>` the same for
  each routing class (selection.routing_class: language|skill|team), listed in the set `classes`; `heads`
  a sorted set of each class's first queued handoff, as `<queue member>|<class>` at that handoff's score,
  kept exact by every change to the queue (each one a Lua script), so a decision reads the heads of all
  classes in queue order with one small ZRANGE; `needs` a hash handoff id →
  what it asks of its agent (JSON); `held` a hash handoff id → its agent and state (JSON); `agents` a hash
  account id → profile, presence and load (JSON); `teams` a hash team id → time zone and hours (JSON);
  `agents:version` and `teams:version` counters of the two hashes' writes (each process keeps a copy of
  those hashes while their version is unchanged); `built` set once a rebuild from SQL wrote all of the above
  (its value starts with the keys' layout version, so a state laid out by an older version is rebuilt).
- InProcessLiveState: the same in this process's memory (the embedded default, one backend process).

A state without its `built` marker (a new or flushed Redis, a process start) is rebuilt from SQL by
service.RoutingEngine before it is used (`replace_all`), so a Redis loss loses nothing.
"""

from __future__ import annotations

import bisect
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Generic, Protocol, TypeVar, cast

import redis.asyncio as redis

from cs_backend.routing.selection import AgentState, HandoffNeeds, OpeningHours, TeamHours, routing_class

DEFAULT_KEY_PREFIX = "cs_backend:routing:"
V = TypeVar("V")
# Decoded handoff needs this process keeps (by their stored text), enough for a long queue.
NEEDS_COPIES = 50_000
# Class heads this process keeps (by their text as read), enough for every class's head to change many times.
HEAD_COPIES = 10_000
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


@dataclass(frozen=True)
class ClassHead:
    """The first queued handoff of a routing class."""

    routing_class: str
    entry: QueuedHandoff


@dataclass(frozen=True)
class RoutingView:
    agents: list[AgentState]
    teams: dict[int, TeamHours]
    heads: list[ClassHead]


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

    async def queue_classes(self) -> list[str]:
        """The routing classes (selection.routing_class) that have, or had, queued handoffs."""

    async def routing_view(self, head_count: int) -> RoutingView:
        """The agents, the teams and the first `head_count` class heads (as `class_heads`): what every
        decision reads first."""

    async def class_heads(self, start: int, count: int) -> list[ClassHead]:
        """The first queued handoff of every routing class that has one, all in queue order, from the 0-based
        `start`."""

    async def class_page(self, routing_class: str, start: int, count: int) -> list[QueuedHandoff]:
        """Queued handoffs of one class in queue order, from the 0-based `start`."""

    async def position(self, request_id: int) -> int | None:
        """1-based position in the queue; None when not queued."""

    async def hold(self, request_id: int, held: Held) -> None: ...

    async def release(self, request_id: int) -> None: ...

    async def held(self) -> dict[int, Held]: ...

    async def offer(self, needs: HandoffNeeds, held: Held, agent: AgentState) -> None:
        """An offer in one step: the handoff leaves the queue, is held, and the agent is updated."""

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
        # The same per routing class.
        self._class_order: dict[str, list[tuple[float, int]]] = {}
        # Each class's first entry, kept sorted by (score, request id): the class heads in queue order.
        self._heads: list[tuple[float, int, ClassHead]] = []
        self._head_of: dict[str, tuple[float, int, ClassHead]] = {}
        self._queued: dict[int, QueuedHandoff] = {}
        self._held: dict[int, Held] = {}
        self._agents: dict[int, AgentState] = {}
        self._teams: dict[int, TeamHours] = {}

    async def is_built(self) -> bool:
        return self._built

    async def replace_all(self, snapshot: LiveSnapshot) -> None:
        self._queued = {entry.needs.request_id: entry for entry in snapshot.queued}
        self._order = sorted((entry.score, request_id) for request_id, entry in self._queued.items())
        self._class_order = {}
        for score, request_id in self._order:
            self._class_order.setdefault(routing_class(self._queued[request_id].needs), []).append(
                (score, request_id)
            )
        self._head_of = {}
        for name, order in self._class_order.items():
            score, request_id = order[0]
            self._head_of[name] = (score, request_id, ClassHead(name, self._queued[request_id]))
        self._heads = sorted(self._head_of.values())
        self._held = dict(snapshot.held)
        self._agents = {agent.account_id: agent for agent in snapshot.agents}
        self._teams = {team.team_id: team for team in snapshot.teams}
        self._built = True

    async def invalidate(self) -> None:
        self._built = False

    async def enqueue(self, entry: QueuedHandoff) -> None:
        await self.dequeue(entry.needs.request_id)
        self._queued[entry.needs.request_id] = entry
        key, name = (entry.score, entry.needs.request_id), routing_class(entry.needs)
        bisect.insort(self._order, key)
        bisect.insort(self._class_order.setdefault(name, []), key)
        self._follow_head(name)

    async def dequeue(self, request_id: int) -> None:
        entry = self._queued.pop(request_id, None)
        if entry is None:
            return
        key = (entry.score, request_id)
        del self._order[bisect.bisect_left(self._order, key)]
        name = routing_class(entry.needs)
        in_class = self._class_order[name]
        del in_class[bisect.bisect_left(in_class, key)]
        self._follow_head(name)

    def _follow_head(self, name: str) -> None:
        """After a change to the class's queue: its entry among the heads follows its first handoff."""
        order = self._class_order.get(name)
        previous = self._head_of.get(name)
        head = None
        if order:
            score, request_id = order[0]
            entry = self._queued[request_id]
            if previous is not None and previous[2].entry is entry:
                return
            head = (score, request_id, ClassHead(name, entry))
        if previous is not None:
            del self._heads[bisect.bisect_left(self._heads, previous)]
            del self._head_of[name]
        if head is not None:
            bisect.insort(self._heads, head)
            self._head_of[name] = head

    async def queued(self, start: int = 0, count: int = 100) -> list[QueuedHandoff]:
        return [self._queued[request_id] for _, request_id in self._order[start : start + count]]

    async def queue_length(self) -> int:
        return len(self._order)

    async def queue_classes(self) -> list[str]:
        return list(self._class_order)

    async def routing_view(self, head_count: int) -> RoutingView:
        return RoutingView(
            list(self._agents.values()), dict(self._teams), await self.class_heads(0, head_count)
        )

    async def class_heads(self, start: int, count: int) -> list[ClassHead]:
        return [head for _, _, head in self._heads[start : start + count]]

    async def class_page(self, routing_class: str, start: int, count: int) -> list[QueuedHandoff]:
        order = self._class_order.get(routing_class, [])
        return [self._queued[request_id] for _, request_id in order[start : start + count]]

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

    async def offer(self, needs: HandoffNeeds, held: Held, agent: AgentState) -> None:
        await self.dequeue(needs.request_id)
        await self.hold(needs.request_id, held)
        await self.put_agent(agent)

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

# The scripts that change the queue share these: KEYS[1] the queue, KEYS[2] the needs hash, KEYS[3] the class
# heads. A class's entry in the heads set is `<member>|<class>` at the score of the class's first member, so
# the set orders the heads as the queue does (score, then member: the older request first).
QUEUE_FUNCTIONS = """
local function class_head(class_key)
  return redis.call('ZRANGE', class_key, 0, 0, 'WITHSCORES')
end
local function follow_head(class_key, name, before)
  local after = class_head(class_key)
  if before[1] and before[1] ~= after[1] then redis.call('ZREM', KEYS[3], before[1] .. '|' .. name) end
  if after[1] then redis.call('ZADD', KEYS[3], after[2], after[1] .. '|' .. name) end
end
local function leave(class_key, name, member, field)
  local before = class_head(class_key)
  redis.call('ZREM', class_key, member)
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], field)
  follow_head(class_key, name, before)
end
"""

# KEYS[4] the classes set, KEYS[5] the class queue, KEYS[6] the previous class queue (when queued).
# ARGV: member, needs field, score, class, needs, the needs read before (empty: none), the previous class.
# Returns 0, changing nothing, when the stored needs are no longer those read before (the caller reads again).
ENQUEUE_SCRIPT = (
    QUEUE_FUNCTIONS
    + """
if (redis.call('HGET', KEYS[2], ARGV[2]) or '') ~= ARGV[6] then return 0 end
if KEYS[6] then leave(KEYS[6], ARGV[7], ARGV[1], ARGV[2]) end
local before = class_head(KEYS[5])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[5])
follow_head(KEYS[5], ARGV[4], before)
return 1
"""
)

# KEYS[4] the class queue. ARGV: member, needs field, class, the needs read before. Returns 0 as
# ENQUEUE_SCRIPT does.
DEQUEUE_SCRIPT = (
    QUEUE_FUNCTIONS
    + """
if (redis.call('HGET', KEYS[2], ARGV[2]) or '') ~= ARGV[4] then return 0 end
leave(KEYS[4], ARGV[3], ARGV[1], ARGV[2])
return 1
"""
)

# KEYS[4] the class queue, KEYS[5] the held hash, KEYS[6] the agents hash, KEYS[7] its version.
# ARGV: member, needs field, class, held, agent field, agent. Returns the agents' new version.
OFFER_SCRIPT = (
    QUEUE_FUNCTIONS
    + """
leave(KEYS[4], ARGV[3], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[5], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[6], ARGV[5], ARGV[6])
return redis.call('INCR', KEYS[7])
"""
)

# Adds to `lines`, for each class head from the 0-based rank `first` to `last` in queue order, its heads-set
# member, its score as Redis writes it (full precision) and its needs (JSON: no line breaks), and returns the
# lines as one text: redis-py parses each element of a reply in Python, which costs more than the reading.
READ_HEADS_FUNCTION = """
local function read_heads(heads_key, needs_key, first, last, lines)
  local heads = redis.call('ZRANGE', heads_key, first, last, 'WITHSCORES')
  for i = 1, #heads, 2 do
    local needs = redis.call('HGET', needs_key, tostring(tonumber(string.sub(heads[i], 1, 10))))
    if needs then
      lines[#lines + 1] = heads[i]
      lines[#lines + 1] = heads[i + 1]
      lines[#lines + 1] = needs
    end
  end
  return table.concat(lines, '\\n')
end
"""

# KEYS[1] the class heads, KEYS[2] the needs hash. ARGV: the first and last rank.
CLASS_HEADS_SCRIPT = READ_HEADS_FUNCTION + "return read_heads(KEYS[1], KEYS[2], ARGV[1], ARGV[2], {})"

# KEYS[1] and KEYS[2] the agents' and the teams' versions, KEYS[3] the class heads, KEYS[4] the needs hash.
# ARGV: the number of heads. Returns the two versions (empty when missing) as the first two lines, then the
# heads as above.
ROUTING_VIEW_SCRIPT = (
    READ_HEADS_FUNCTION
    + """
local versions = {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or ''}
return read_heads(KEYS[3], KEYS[4], 0, tonumber(ARGV[1]) - 1, versions)
"""
)
# Bumped when the keys' layout changes: a state whose `built` marker names another layout is rebuilt.
LAYOUT = "heads-1"


K = TypeVar("K")


def _remember(copies: dict[K, V], key: K, value: V, most: int) -> V:
    """`value` kept in `copies` under `key`, at most `most` of them: the oldest dropped first."""
    copies[key] = value
    if len(copies) > most:
        del copies[next(iter(copies))]
    return value


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
        # Agents and teams are read by every decision and change far less often than they are read: this
        # process keeps a copy of each hash, valid while the hash's version key (INCR on every write, a
        # new random base on every rebuild) has the value the copy was read or written at.
        self._agents = _CachedHash(self.keys.agents, self.keys.agents_version, decode_agent, encode_agent)
        self._teams = _CachedHash(self.keys.teams, self.keys.teams_version, decode_team, encode_team)
        self._needs_copies: dict[bytes, HandoffNeeds] = {}
        self._head_copies: dict[tuple[bytes, bytes, bytes], ClassHead] = {}
        self._classes_copy: list[str] | None = None
        self._classes_label: tuple[bytes | None, int] | None = None
        self._enqueue_script = self._redis.register_script(ENQUEUE_SCRIPT)
        self._dequeue_script = self._redis.register_script(DEQUEUE_SCRIPT)
        self._offer_script = self._redis.register_script(OFFER_SCRIPT)
        self._class_heads_script = self._redis.register_script(CLASS_HEADS_SCRIPT)
        self._routing_view_script = self._redis.register_script(ROUTING_VIEW_SCRIPT)

    async def is_built(self) -> bool:
        marker = cast(bytes | None, await self._redis.get(self.keys.built))
        return marker is not None and marker.startswith(LAYOUT.encode() + b":")

    async def replace_all(self, snapshot: LiveSnapshot) -> None:
        keys = self.keys
        old_classes = [keys.class_queue(name) for name in await self.queue_classes()]
        by_class: dict[str, dict[str, float]] = {}
        for e in snapshot.queued:
            by_class.setdefault(routing_class(e.needs), {})[_member(e.needs.request_id)] = e.score
        # MULTI/EXEC: other processes see the old state or the new one, never half of it.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(*keys.all(), *old_classes)
            for name, members in by_class.items():
                pipe.zadd(keys.class_queue(name), members)
            if by_class:
                pipe.sadd(keys.classes, *by_class)
                heads = {
                    name: min(members.items(), key=lambda item: (item[1], item[0]))
                    for name, members in by_class.items()
                }
                pipe.zadd(keys.heads, {f"{member}|{name}": score for name, (member, score) in heads.items()})
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
            pipe.set(keys.agents_version, _new_version_base())
            pipe.set(keys.teams_version, _new_version_base())
            pipe.set(keys.built, f"{LAYOUT}:{secrets.token_hex(8)}")
            await pipe.execute()
        self._agents.forget()
        self._teams.forget()

    async def invalidate(self) -> None:
        await self._redis.delete(self.keys.built)

    async def enqueue(self, entry: QueuedHandoff) -> None:
        request_id, name = entry.needs.request_id, routing_class(entry.needs)
        keys = [
            self.keys.queue,
            self.keys.needs,
            self.keys.heads,
            self.keys.classes,
            self.keys.class_queue(name),
        ]
        # The script moves the handoff out of its previous class only if the needs it was read from are still
        # there (another process may change them meanwhile): else read again.
        while True:
            previous = cast(bytes | None, await self._redis.hget(self.keys.needs, str(request_id)))
            previous_class = "" if previous is None else routing_class(decode_needs(previous))
            args: list[bytes | str | int] = [
                _member(request_id),
                request_id,
                repr(entry.score),
                name,
                encode_needs(entry.needs),
                previous or b"",
                previous_class,
            ]
            previous_keys = [] if previous is None else [self.keys.class_queue(previous_class)]
            if await self._enqueue_script(keys=keys + previous_keys, args=args):
                return

    async def dequeue(self, request_id: int) -> None:
        while True:
            previous = cast(bytes | None, await self._redis.hget(self.keys.needs, str(request_id)))
            if previous is None:
                return
            name = routing_class(decode_needs(previous))
            keys = [self.keys.queue, self.keys.needs, self.keys.heads, self.keys.class_queue(name)]
            if await self._dequeue_script(keys=keys, args=[_member(request_id), request_id, name, previous]):
                return

    async def routing_view(self, head_count: int) -> RoutingView:
        # One round trip for the first heads and the labels of the two copies this process keeps; a copy is
        # read again only when its label changed.
        keys = self.keys
        reply = cast(
            bytes,
            await self._routing_view_script(
                keys=[keys.agents_version, keys.teams_version, keys.heads, keys.needs], args=[head_count]
            ),
        )
        agents_version, teams_version, *lines = reply.split(b"\n")
        agents = await self._agents.read(self._redis, agents_version or None)
        teams = await self._teams.read(self._redis, teams_version or None)
        return RoutingView(list(agents.values()), dict(teams), self._heads(lines))

    async def queue_classes(self) -> list[str]:
        # Classes are only added between rebuilds, so an unchanged count under the same rebuild (the
        # `built` token) means an unchanged set: this process's copy is read again only when it grew.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self.keys.built)
            pipe.scard(self.keys.classes)
            built, count = await pipe.execute()
        if self._classes_copy is not None and (built, count) == self._classes_label:
            return self._classes_copy
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self.keys.built)
            pipe.smembers(self.keys.classes)
            built, names = await pipe.execute()
        self._classes_copy = sorted(name.decode() for name in names)
        self._classes_label = (built, len(names))
        return self._classes_copy

    async def class_heads(self, start: int, count: int) -> list[ClassHead]:
        reply = cast(
            bytes,
            await self._class_heads_script(
                keys=[self.keys.heads, self.keys.needs], args=[start, start + count - 1]
            ),
        )
        return self._heads(reply.split(b"\n") if reply else [])

    def _heads(self, lines: list[bytes]) -> list[ClassHead]:
        """Class heads from READ_HEADS_FUNCTION's lines (member, score, needs; the member `<id>|<class>`)."""
        heads = []
        for index in range(0, len(lines) - 2, 3):
            # Keyed by the text read, so a copy can never be stale: the heads no agent serves come back at
            # every decision until someone can take them.
            text = (lines[index], lines[index + 1], lines[index + 2])
            head = self._head_copies.get(text)
            if head is None:
                entry = QueuedHandoff(self._decoded_needs(text[2]), float(text[1]))
                head = _remember(
                    self._head_copies, text, ClassHead(text[0][11:].decode(), entry), HEAD_COPIES
                )
            heads.append(head)
        return heads

    async def class_page(self, routing_class: str, start: int, count: int) -> list[QueuedHandoff]:
        members = cast(
            list[tuple[bytes, float]],
            await self._redis.zrange(
                self.keys.class_queue(routing_class), start, start + count - 1, withscores=True
            ),
        )
        return await self._entries(members)

    async def _entries(self, members: list[tuple[bytes, float]]) -> list[QueuedHandoff]:
        if not members:
            return []
        ids = [int(member) for member, _ in members]
        needs = cast(list[bytes | None], await self._redis.hmget(self.keys.needs, [str(i) for i in ids]))
        return [
            QueuedHandoff(self._decoded_needs(data), float(score))
            for (_, score), data in zip(members, needs, strict=True)
            if data is not None
        ]

    def _decoded_needs(self, data: bytes) -> HandoffNeeds:
        # Keyed by the stored text itself, so a copy can never be stale.
        needs = self._needs_copies.get(data)
        if needs is None:
            needs = _remember(self._needs_copies, data, decode_needs(data), NEEDS_COPIES)
        return needs

    async def queued(self, start: int = 0, count: int = 100) -> list[QueuedHandoff]:
        # redis-py's types cover every reply shape; with withscores these are (member, score) pairs.
        members = cast(
            list[tuple[bytes, float]],
            await self._redis.zrange(self.keys.queue, start, start + count - 1, withscores=True),
        )
        return await self._entries(members)

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

    async def offer(self, needs: HandoffNeeds, held: Held, agent: AgentState) -> None:
        request_id, name = needs.request_id, routing_class(needs)
        keys = self.keys
        version = await self._offer_script(
            keys=[
                keys.queue,
                keys.needs,
                keys.heads,
                keys.class_queue(name),
                keys.held,
                keys.agents,
                keys.agents_version,
            ],
            args=[
                _member(request_id),
                request_id,
                name,
                encode_held(held),
                agent.account_id,
                encode_agent(agent),
            ],
        )
        self._agents.written(int(version), agent.account_id, agent)

    async def put_agent(self, agent: AgentState) -> None:
        await self._agents.put(self._redis, agent.account_id, agent)

    async def remove_agent(self, account_id: int) -> None:
        await self._agents.remove(self._redis, account_id)

    async def agents(self) -> list[AgentState]:
        return list((await self._agents.read(self._redis)).values())

    async def put_team(self, team: TeamHours) -> None:
        await self._teams.put(self._redis, team.team_id, team)

    async def remove_team(self, team_id: int) -> None:
        await self._teams.remove(self._redis, team_id)

    async def teams(self) -> dict[int, TeamHours]:
        return dict(await self._teams.read(self._redis))

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
    def classes(self) -> str:
        return self.prefix + "classes"

    @property
    def heads(self) -> str:
        return self.prefix + "heads"

    def class_queue(self, routing_class: str) -> str:
        return self.prefix + "queue:" + routing_class

    @property
    def agents_version(self) -> str:
        return self.prefix + "agents:version"

    @property
    def teams_version(self) -> str:
        return self.prefix + "teams:version"

    @property
    def built(self) -> str:
        return self.prefix + "built"

    def all(self) -> list[str]:
        return [
            self.queue,
            self.needs,
            self.held,
            self.agents,
            self.teams,
            self.classes,
            self.heads,
            self.agents_version,
            self.teams_version,
            self.built,
        ]


def _new_version_base() -> int:
    # Random, so that a copy read before a flush and rebuild never matches a version counted after it.
    return secrets.randbits(48)


class _CachedHash(Generic[V]):
    """A Redis hash (integer field → value) and this process's copy of it, valid at one version."""

    def __init__(
        self, key: str, version_key: str, decode: Callable[[bytes], V], encode: Callable[[V], str]
    ) -> None:
        self.key, self.version_key = key, version_key
        self._decode, self._encode = decode, encode
        self._copy: dict[int, V] | None = None
        self._version: int | None = None

    def forget(self) -> None:
        self._copy, self._version = None, None

    async def read(self, connection: redis.Redis, known_version: bytes | None | bool = False) -> dict[int, V]:
        """The hash; `known_version`: its version as just read by the caller (False: read it here)."""
        raw_version = await connection.get(self.version_key) if known_version is False else known_version
        version = int(raw_version) if isinstance(raw_version, bytes) else None
        if self._copy is not None and version is not None and version == self._version:
            return self._copy
        # The hash and its version together (MULTI), so the copy is labelled with the version it has.
        async with connection.pipeline(transaction=True) as pipe:
            pipe.get(self.version_key)
            pipe.hgetall(self.key)
            raw_version, raw = await pipe.execute()
        copy = {int(field): self._decode(value) for field, value in raw.items()}
        if raw_version is None:
            self.forget()  # lost: no version to label a copy with (the state is rebuilt before it is used)
        else:
            self._copy, self._version = copy, int(raw_version)
        return copy

    def queue_put(self, pipe: Any, field: int, value: V) -> None:
        pipe.hset(self.key, str(field), self._encode(value))
        pipe.incr(self.version_key)

    def written(self, new_version: int, field: int, value: V | None) -> None:
        """After a write that moved the version to `new_version`: keep the copy current if it was at the
        version just before (no other writer in between), else drop it."""
        if self._copy is not None and self._version is not None and new_version == self._version + 1:
            if value is None:
                self._copy.pop(field, None)
            else:
                self._copy[field] = value
            self._version = new_version
        else:
            self.forget()

    async def put(self, connection: redis.Redis, field: int, value: V) -> None:
        async with connection.pipeline(transaction=True) as pipe:
            self.queue_put(pipe, field, value)
            replies = await pipe.execute()
        self.written(replies[-1], field, value)

    async def remove(self, connection: redis.Redis, field: int) -> None:
        async with connection.pipeline(transaction=True) as pipe:
            pipe.hdel(self.key, str(field))
            pipe.incr(self.version_key)
            replies = await pipe.execute()
        self.written(replies[-1], field, None)


def create_live_state(redis_url: str | None, key_prefix: str = DEFAULT_KEY_PREFIX) -> LiveState:
    if redis_url:
        return RedisLiveState(redis_url, key_prefix)
    return InProcessLiveState()
