"""The estimated wait told to a queued customer (docs/HANDOFF.md, "Estimated wait").

    wait = typical wait × position ÷ agents

- typical wait: the median time from queued to accepted over the last RECENT_HANDOFFS handoffs accepted
  within HISTORY_WINDOW; DEFAULT_TYPICAL_WAIT while fewer than MIN_SAMPLES exist;
- position: the handoff's place in the queue (1 = next);
- agents: the agents who could take it now (online, its language, skill and team, their team open; their
  load aside), at least 1.

Rounded up to whole seconds; the customer hears it in whole minutes, at least 1 (`wait_minutes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from statistics import median
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.routing.models import AgentProfile, HandoffRequest, Team
from cs_backend.routing.selection import AgentState, HandoffNeeds, TeamHours, is_eligible
from cs_backend.routing.snapshot import agent_state, needs_of, team_hours

RECENT_HANDOFFS: Final = 50
HISTORY_WINDOW: Final = timedelta(days=7)
MIN_SAMPLES: Final = 3
DEFAULT_TYPICAL_WAIT: Final = timedelta(minutes=3)


async def typical_wait(session: AsyncSession, now: datetime) -> timedelta:
    """The median time from queued to accepted of the recent accepted handoffs (the default without them)."""
    found = await session.execute(
        select(HandoffRequest.queued_at, HandoffRequest.accepted_at)
        .where(HandoffRequest.accepted_at.is_not(None), HandoffRequest.accepted_at >= now - HISTORY_WINDOW)
        .order_by(HandoffRequest.accepted_at.desc())
        .limit(RECENT_HANDOFFS)
    )
    waits = [
        max(0.0, (accepted_at - queued_at).total_seconds())
        for queued_at, accepted_at in found
        if accepted_at is not None
    ]
    if len(waits) < MIN_SAMPLES:
        return DEFAULT_TYPICAL_WAIT
    return timedelta(seconds=median(waits))


@dataclass(frozen=True)
class WaitBasis:
    """What the estimate reads from SQL, read once for any number of handoffs."""

    typical: timedelta
    agents: list[AgentState]
    teams: dict[int, TeamHours]
    now: datetime

    def agents_who_could_take(self, needs: HandoffNeeds) -> int:
        """Agents online with the handoff's language, skill and team, their team open now; load and
        exclusions aside (a busy agent frees up)."""
        anyone = replace(needs, excluded_agents=frozenset())
        return sum(1 for agent in self.agents if is_eligible(agent, anyone, self.teams, self.now))

    def seconds(self, handoff: HandoffRequest, position: int) -> int:
        return wait_seconds(self.typical, position, self.agents_who_could_take(needs_of(handoff)))


async def wait_basis(session: AsyncSession, now: datetime) -> WaitBasis:
    teams = {team.id: team_hours(team) for team in await session.scalars(select(Team))}
    # Load 0: the count is of agents who could take it, busy or not.
    agents = [agent_state(profile, 0) for profile in await session.scalars(select(AgentProfile))]
    return WaitBasis(await typical_wait(session, now), agents, teams, now)


def wait_seconds(typical: timedelta, position: int, agents: int) -> int:
    return max(1, math.ceil(typical.total_seconds() * position / max(1, agents)))


def wait_minutes(seconds: int) -> int:
    """What the customer is told: whole minutes, rounded up, at least 1."""
    return max(1, math.ceil(seconds / 60))
