"""Whether anyone could take a handoff now, and if not why (docs/HANDOFF.md, "Nobody available").

A handoff is taken when an agent who fits it (language, skill, team) is online and their team is open, even
if they are busy: it waits in the queue for them. Otherwise it is not queued:

- closed: the handoff's team, or else every team of the agents who fit it, is outside its business hours and
  opens again at `reopens_at` (the earliest next opening among them);
- no_agent: anything else (nobody fits, or those who fit are offline or away while their team is open).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.routing.models import AgentProfile, Team
from cs_backend.routing.selection import HandoffNeeds, TeamHours, is_eligible, is_open, next_opening
from cs_backend.routing.snapshot import agent_state, team_hours


@dataclass(frozen=True)
class Availability:
    unavailable: str | None = None  # "no_agent" | "closed"; None: someone could take it
    reopens_at: datetime | None = None


def _fits(profile: AgentProfile, needs: HandoffNeeds) -> bool:
    if needs.language not in profile.languages:
        return False
    if needs.skill is not None and needs.skill not in profile.skills:
        return False
    return needs.team_id is None or profile.team_id == needs.team_id


async def availability(session: AsyncSession, needs: HandoffNeeds, now: datetime) -> Availability:
    teams: dict[int, TeamHours] = {team.id: team_hours(team) for team in await session.scalars(select(Team))}
    fitting = [profile for profile in await session.scalars(select(AgentProfile)) if _fits(profile, needs)]
    anyone = replace(needs, excluded_agents=frozenset())
    if any(is_eligible(agent_state(profile, 0), anyone, teams, now) for profile in fitting):
        return Availability()
    if needs.team_id is not None:
        team_ids = {needs.team_id}
    else:
        team_ids = {profile.team_id for profile in fitting if profile.team_id is not None}
    relevant = [teams[team_id] for team_id in sorted(team_ids) if team_id in teams]
    if relevant and not any(is_open(hours, now) for hours in relevant):
        openings = [start for hours in relevant if (start := next_opening(hours, now)) is not None]
        if openings:
            return Availability("closed", min(openings))
    return Availability("no_agent")
