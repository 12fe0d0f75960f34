"""One routing decision on the live state: the first queued handoff, in queue order, that an eligible agent
can take, with the agent routing chooses for it (selection.py); and the decision's mark on the live state.

service.RoutingEngine.dispatch commits each decision to SQL between the two; `make bench-routing` times
the two on both live-state implementations (benchmarks/routing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from cs_backend.routing.live_state import Held, LiveState, QueuedHandoff
from cs_backend.routing.selection import AgentState, Roster, routing_class

# Most handoffs read per step when a class is read past its head.
MAX_PAGE = 1024
# Handoffs read from the head of each routing class.
HEAD_DEPTH = 4


@dataclass(frozen=True)
class Decision:
    entry: QueuedHandoff
    agent: AgentState


async def next_decision(live: LiveState, now: datetime) -> Decision | None:
    """The next offer to make, or None when no queued handoff has an eligible agent now.

    Only the routing classes (language and skill) some agent here could serve are read, from their heads:
    the best handoff an agent can take among the first HEAD_DEPTH of each class. A class whose heads read
    were all refused (a team that is closed, agents who declined) is read further, but only down to the
    score of the best handoff found so far: what lies below cannot come first.
    """
    roster = Roster(await live.agents(), await live.teams(), now)
    if not roster:
        return None
    classes = [name for name in await live.queue_classes() if name in roster.classes]
    heads = await live.class_heads(classes, HEAD_DEPTH)
    choices = {entry.needs.request_id: roster.choose(entry.needs) for entry in heads}
    best: Decision | None = None
    refused: dict[str, int] = {}
    for entry in sorted(heads, key=_order):
        agent = choices[entry.needs.request_id]
        if agent is None:
            name = routing_class(entry.needs)
            refused[name] = refused.get(name, 0) + 1
        elif best is None:
            best = Decision(entry, agent)
    for name, count in refused.items():
        if count == HEAD_DEPTH:  # every head read was refused, and the class may go on
            best = await _deeper(live, roster, name, best)
    return best


def _order(entry: QueuedHandoff) -> tuple[float, int]:
    return (entry.score, entry.needs.request_id)


async def _deeper(live: LiveState, roster: Roster, name: str, best: Decision | None) -> Decision | None:
    """`best`, or a handoff of class `name` that comes before it in the queue and that an agent can take."""
    start, page_size = HEAD_DEPTH, HEAD_DEPTH * 4
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
