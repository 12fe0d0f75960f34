"""A handoff as the API answers it (HandoffOut): the row, plus what is read elsewhere: its place in the live
queue and the estimated wait while queued, and the name of its agent."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from cs_backend.accounts.models import Account
from cs_backend.routing.models import HandoffRequest
from cs_backend.routing.schemas import HandoffOut
from cs_backend.routing.service import RoutingEngine
from cs_backend.routing.wait_estimate import wait_basis


async def handoffs_out(
    engine: RoutingEngine, handoffs: Sequence[HandoffRequest], positions: Sequence[int | None]
) -> list[HandoffOut]:
    """The handoffs with their queue positions (given, None when not queued), waits and agents' names."""
    agent_ids = {handoff.agent_id for handoff in handoffs if handoff.agent_id is not None}
    async with engine.db.sessions() as session:
        names = dict(
            (
                await session.execute(
                    select(Account.id, Account.display_name).where(Account.id.in_(agent_ids))
                )
            ).all()
            if agent_ids
            else []
        )
        basis = await wait_basis(session, engine.clock()) if any(p is not None for p in positions) else None
    outs = []
    for handoff, position in zip(handoffs, positions, strict=True):
        out = HandoffOut.model_validate(handoff)
        out.queue_position = position
        if position is not None and basis is not None:
            out.estimated_wait_seconds = basis.seconds(handoff, position)
        if handoff.agent_id is not None:
            out.agent_name = names.get(handoff.agent_id)
        outs.append(out)
    return outs


async def handoff_out(engine: RoutingEngine, handoff: HandoffRequest) -> HandoffOut:
    position = await engine.queue_position(handoff)
    return (await handoffs_out(engine, [handoff], [position]))[0]
