"""One routing decision on the live state: the first queued handoff, in queue order, that an eligible agent
can take, with the agent routing chooses for it (selection.py); and the decision's mark on the live state.

service.RoutingEngine.dispatch commits each decision to SQL between the two; `make bench-routing` times
the two on both live-state implementations (benchmarks/routing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from weakref import WeakKeyDictionary

from cs_backend.routing.live_state import Held, LiveState, QueuedHandoff
from cs_backend.routing.selection import AgentState, Roster

# Most handoffs read per step when a class is read past its head.
MAX_PAGE = 1024
# Class heads read first (with the agents and teams), in queue order: the first that some agent here can
# serve is usually taken. Each further read takes four times as many, up to MAX_PAGE.
HEAD_BATCH = 32

# The roster of each live state's last decision in this process: the next one works out only the agents
# that changed since (selection.Roster's `previous`).
_last_rosters: WeakKeyDictionary[LiveState, Roster] = WeakKeyDictionary()


@dataclass(frozen=True)
class Decision:
    entry: QueuedHandoff
    agent: AgentState


async def next_decision(live: LiveState, now: datetime) -> Decision | None:
    """The next offer to make, or None when no queued handoff has an eligible agent now.

    First only the heads of the routing classes (selection.routing_class) are read, in queue order, and
    only those of the classes some agent here could serve are considered: within a class the handoffs ask
    the same, so a class's head is taken unless everyone who could take it declined it or let it lapse.
    Such a class is read further, down to the first head taken of another class at most: what lies below
    cannot come first.
    """
    view = await live.routing_view(HEAD_BATCH)
    roster = Roster(view.agents, view.teams, now, _last_rosters.get(live))
    _last_rosters[live] = roster
    if not roster:
        return None
    refused: list[str] = []
    best: Decision | None = None
    heads, start, count = view.heads, 0, HEAD_BATCH
    while best is None and heads:
        for head in heads:
            if not roster.serves_class(head.routing_class):
                continue
            agent = roster.choose(head.entry.needs)
            if agent is None:
                refused.append(head.routing_class)
            else:
                best = Decision(head.entry, agent)
                break
        if best is not None or len(heads) < count:  # a short read: no class heads after these
            break
        start, count = start + len(heads), min(count * 4, MAX_PAGE)
        heads = await live.class_heads(start, count)
    for name in refused:
        best = await _deeper(live, roster, name, best)
    return best


def _order(entry: QueuedHandoff) -> tuple[float, int]:
    return (entry.score, entry.needs.request_id)


async def _deeper(live: LiveState, roster: Roster, name: str, best: Decision | None) -> Decision | None:
    """`best`, or a handoff of class `name` that comes before it in the queue and that an agent can take."""
    start, page_size = 1, 8
    while entries := await live.class_page(name, start, page_size):
        for entry in entries:
            if best is not None and _order(entry) >= _order(best.entry):
                return best
            agent = roster.choose(entry.needs)
            if agent is not None:
                return Decision(entry, agent)
        start += len(entries)
        page_size = min(page_size * 4, MAX_PAGE)
    return best


async def record_decision(live: LiveState, decision: Decision, now: datetime) -> None:
    """The offer in the live state: out of the queue, held by the agent, one more on their load."""
    agent = replace(decision.agent, load=decision.agent.load + 1, last_assigned_at=now)
    await live.offer(decision.entry.needs, Held(agent.account_id, "assigned"), agent)
