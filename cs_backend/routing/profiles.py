"""Routing profiles written outside the running service (`python -m cs_backend create-agent`).

A profile made here is offline, so no live state needs to know it yet: the agent's first status change in the
console (RoutingEngine.set_status) mirrors the profile from SQL into the live state of the running service.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.db import Database, run_transaction, utcnow
from cs_backend.routing.models import AgentProfile, Team
from cs_backend.routing.schemas import AgentProfileSet


async def team_exists(db: Database, team_id: int) -> bool:
    async with db.sessions() as session:
        return await session.get(Team, team_id) is not None


async def create_offline_profile(db: Database, account_id: int, data: AgentProfileSet) -> AgentProfile:
    """The routing profile of a new account, offline."""
    now = utcnow()

    async def insert(session: AsyncSession) -> AgentProfile:
        profile = AgentProfile(
            account_id=account_id,
            team_id=data.team_id,
            skills=list(data.skills),
            languages=list(data.languages),
            capacity=data.capacity,
            status="offline",
            status_changed_at=now,
            updated_at=now,
        )
        session.add(profile)
        await session.flush()
        return profile

    return await run_transaction(db.sessions, insert)
