"""One routing decision on the live state: the first queued handoff, in queue order, that an eligible agent
can take, with the agent routing chooses for it (selection.py); and the decision's mark on the live state.

service.RoutingEngine.dispatch commits each decision to SQL between the two; `make bench-routing` times
the two on both live-state implementations (benchmarks/routing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from cs_backend.routing.live_state import Held, LiveState, QueuedHandoff
from cs_backend.routing.selection import AgentState, choose_agent

# Queued handoffs read per step of the scan (a head of the queue nobody can take is skipped, not waited on).
SCAN_PAGE = 200


@dataclass(frozen=True)
class Decision:
    entry: QueuedHandoff
    agent: AgentState


def _has_room(agent: AgentState) -> bool:
    return agent.status == "online" and agent.load < agent.capacity


async def next_decision(live: LiveState, now: datetime, page_size: int = SCAN_PAGE) -> Decision | None:
    """The next offer to make, or None when no queued handoff has an eligible agent now."""
    agents = await live.agents()
    if not any(_has_room(agent) for agent in agents):
        return None
    teams = await live.teams()
    start = 0
    while entries := await live.queued(start, page_size):
        for entry in entries:
            agent = choose_agent(entry.needs, agents, teams, now)
            if agent is not None:
                return Decision(entry, agent)
        start += len(entries)
    return None


async def record_decision(live: LiveState, decision: Decision, now: datetime) -> None:
    """The offer in the live state: out of the queue, held by the agent, one more on their load."""
    request_id = decision.entry.needs.request_id
    await live.dequeue(request_id)
    await live.hold(request_id, Held(decision.agent.account_id, "assigned"))
    await live.put_agent(replace(decision.agent, load=decision.agent.load + 1, last_assigned_at=now))
