"""Rows → the routing values of selection.py, and the whole live state read from SQL (the rebuild)."""

from __future__ import annotations

from datetime import time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.routing.live_state import Held, LiveSnapshot, QueuedHandoff
from cs_backend.routing.models import ACTIVE_STATES, HOLDING_STATES, AgentProfile, HandoffRequest, Team
from cs_backend.routing.selection import AgentState, HandoffNeeds, OpeningHours, TeamHours, queue_score


def team_hours(team: Team) -> TeamHours:
    openings = tuple(
        OpeningHours(int(o["weekday"]), time.fromisoformat(o["opens"]), time.fromisoformat(o["closes"]))
        for o in team.business_hours
    )
    return TeamHours(team_id=team.id, time_zone=team.time_zone, openings=openings)


def agent_state(profile: AgentProfile, load: int) -> AgentState:
    return AgentState(
        account_id=profile.account_id,
        status=profile.status,
        capacity=profile.capacity,
        load=load,
        skills=frozenset(profile.skills),
        languages=frozenset(profile.languages),
        team_id=profile.team_id,
        last_assigned_at=profile.last_assigned_at,
    )


def needs_of(handoff: HandoffRequest) -> HandoffNeeds:
    return HandoffNeeds(
        request_id=handoff.id,
        language=handoff.language,
        skill=handoff.skill,
        team_id=handoff.team_id,
        excluded_agents=frozenset(handoff.excluded_agent_ids),
    )


def queue_entry(handoff: HandoffRequest) -> QueuedHandoff:
    score = queue_score(handoff.priority, handoff.at_risk, handoff.high_value, handoff.queued_at)
    return QueuedHandoff(needs_of(handoff), score)


async def agent_load(session: AsyncSession, account_id: int) -> int:
    """Handoffs offered to or live with the agent, counted in SQL."""
    count = await session.scalar(
        select(func.count())
        .select_from(HandoffRequest)
        .where(HandoffRequest.agent_id == account_id, HandoffRequest.state.in_(HOLDING_STATES))
    )
    return int(count or 0)


async def read_snapshot(session: AsyncSession) -> LiveSnapshot:
    """The live state as SQL says it is now."""
    snapshot = LiveSnapshot()
    for team in await session.scalars(select(Team)):
        snapshot.teams.append(team_hours(team))
    held_counts = await session.execute(
        select(HandoffRequest.agent_id, func.count())
        .where(HandoffRequest.state.in_(HOLDING_STATES), HandoffRequest.agent_id.is_not(None))
        .group_by(HandoffRequest.agent_id)
    )
    loads = {agent_id: int(count) for agent_id, count in held_counts}
    for profile in await session.scalars(select(AgentProfile)):
        snapshot.agents.append(agent_state(profile, loads.get(profile.account_id, 0)))
    active = await session.scalars(select(HandoffRequest).where(HandoffRequest.state.in_(ACTIVE_STATES)))
    for handoff in active:
        if handoff.state == "queued":
            snapshot.queued.append(queue_entry(handoff))
        elif handoff.agent_id is not None:
            snapshot.held[handoff.id] = Held(agent_id=handoff.agent_id, state=handoff.state)
    return snapshot
