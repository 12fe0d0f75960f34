"""The routing engine: handoff requests and their state machine in SQL (the source of truth), mirrored into
the live state (live_state.py) that routing decisions read, with live events for the consoles.

Every change commits to SQL first, then updates the live state, then publishes. If updating the live state
fails halfway, the state is marked for a rebuild from SQL; a lost Redis (flushed, replaced) has no `built`
marker and is rebuilt the same way before its next use.

Offers (`dispatch`) are serialised: in this process by a lock, and across processes by a PostgreSQL advisory
lock taken in each offer's transaction, whose load check reads SQL, so an agent is never offered more than
their capacity.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.accounts.models import Account
from cs_backend.api.errors import ApiError, Conflict, NotFound
from cs_backend.api.idempotency import IdempotencyKey
from cs_backend.conversations.service import touch_conversation
from cs_backend.customers.service import find_or_create_customer
from cs_backend.db import Database, create_once, run_transaction, utcnow
from cs_backend.live_events import LiveEvents, publish_safely
from cs_backend.routing.availability import availability
from cs_backend.routing.decision import next_decision, record_decision
from cs_backend.routing.live_state import Held, InProcessLiveState, LiveState
from cs_backend.routing.models import ACTIVE_STATES, HOLDING_STATES, AgentProfile, HandoffRequest, Team
from cs_backend.routing.schemas import AgentProfileSet, HandoffCreate, HandoffOut, TeamCreate, TeamUpdate
from cs_backend.routing.selection import HandoffNeeds, is_eligible
from cs_backend.routing.snapshot import (
    agent_load,
    agent_state,
    needs_of,
    queue_entry,
    read_snapshot,
    team_hours,
)
from cs_backend.routing.transitions import check_transition

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Held while an offer is committed, on PostgreSQL ("routeoff").
OFFER_LOCK_KEY = 0x726F7574656F6666
# Offers SQL may refuse in one dispatch (the live state was stale) before it stops until the next change.
MAX_REFUSED_OFFERS = 3
STATE_CHANGE_ATTEMPTS = 5


def unknown_team(team_id: int) -> ApiError:
    """A body's team_id names no team: 404 naming the field (the body is valid; what it refers to is not
    found), as for every other id in a body."""
    return NotFound(f"team {team_id} not found", {"team_id": "no such team"})


class NotTheAssignedAgent(ApiError):
    """403: an agent acting on a handoff offered to or held by someone else (admins may act on any)."""

    status = 403


@dataclass(frozen=True)
class Actor:
    """Who asks for a change: a signed-in person (account id and role), or None for the service and jobs."""

    account_id: int
    role: str

    @classmethod
    def of(cls, account: Account) -> Actor:
        return cls(account.id, account.role)


@dataclass(frozen=True)
class AgentView:
    """An agent's routing profile, their name, and the handoffs they hold now."""

    profile: AgentProfile
    display_name: str
    load: int


@dataclass
class RoutingEngine:
    db: Database
    live: LiveState
    events: LiveEvents
    clock: Clock = utcnow
    _offer_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # A rebuild's read of SQL and its write of the live state, and each mirrored change, happen one at a
    # time in this process: a change committed during a rebuild's read is applied after its write.
    _rebuild_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # A change could not be mirrored and the live state could not even be marked for a rebuild (the store was
    # down): a store that comes back with its data still looks built, so this process rebuilds it itself.
    _rebuild_owed: bool = False

    # --- live state ---------------------------------------------------------------------------------------

    async def ensure_built(self) -> None:
        if self._rebuild_owed or not await self.live.is_built():
            await self.rebuild()

    async def rebuild(self) -> None:
        """Replace the live state with what SQL holds (after a Redis loss, at startup)."""
        async with self._rebuild_lock:
            async with self.db.sessions() as session:
                snapshot = await read_snapshot(session)
            await self.live.replace_all(snapshot)
            self._rebuild_owed = False
        log.info(
            "routing live state rebuilt from SQL: %d queued, %d held, %d agents",
            len(snapshot.queued),
            len(snapshot.held),
            len(snapshot.agents),
        )

    async def _mirror(self, handoff: HandoffRequest, *agent_ids: int | None) -> None:
        """Put the handoff's state (and its agents' loads) into the live state; on failure, mark it for a
        rebuild (SQL already holds the change)."""
        try:
            await self.ensure_built()
            async with self._rebuild_lock:
                if handoff.state == "queued":
                    await self.live.release(handoff.id)
                    await self.live.enqueue(queue_entry(handoff))
                elif handoff.state in HOLDING_STATES and handoff.agent_id is not None:
                    await self.live.dequeue(handoff.id)
                    await self.live.hold(handoff.id, Held(handoff.agent_id, handoff.state))
                else:
                    await self.live.dequeue(handoff.id)
                    await self.live.release(handoff.id)
                for agent_id in {a for a in agent_ids if a is not None}:
                    await self._refresh_agent(agent_id)
        except Exception:
            log.exception("routing live state update failed; it will be rebuilt from SQL")
            await self._invalidate()

    async def _invalidate(self) -> None:
        try:
            await self.live.invalidate()
        except Exception as error:  # the store is down: its marker is unreachable too, and so is its state
            self._rebuild_owed = True
            log.warning("routing live state unreachable: %s: %s", error.__class__.__name__, error)

    async def _refresh_agent(self, account_id: int) -> None:
        async with self.db.sessions() as session:
            profile = await session.get(AgentProfile, account_id)
            load = await agent_load(session, account_id)
        if profile is None:
            await self.live.remove_agent(account_id)
        else:
            await self.live.put_agent(agent_state(profile, load))

    async def _publish(self, type: str, handoff: HandoffRequest) -> None:
        out = HandoffOut.model_validate(handoff)
        await publish_safely(self.events, type, out.model_dump(mode="json"))

    # --- handoffs -----------------------------------------------------------------------------------------

    async def request_handoff(
        self, data: HandoffCreate, idempotency_key: IdempotencyKey | None
    ) -> tuple[HandoffRequest, bool]:
        """Queue the conversation for a person, then offer what can be offered; closed at once (cancelled,
        `unavailable` set) when nobody could take it now. (row, created); a key seen before answers the
        handoff first created with it."""

        async def build(session: AsyncSession) -> HandoffRequest:
            customer_id = None
            if data.email is not None:
                customer, _ = await find_or_create_customer(session, data.email)
                customer_id = customer.id
            # As for tickets (tickets/service.py): an email the customer typed goes with the handoff, but does
            # not attach the conversation to that address's customer.
            conversation, _ = await touch_conversation(session, data.sender_id, data.channel)
            if data.team_id is not None and await session.get(Team, data.team_id) is None:
                raise unknown_team(data.team_id)
            now = self.clock()
            # Nobody who could take it now: closed at once rather than left waiting (availability.py).
            needs = HandoffNeeds(0, data.language, data.skill, data.team_id)
            found = await availability(session, needs, now)
            return HandoffRequest(
                conversation_id=conversation.id,
                sender_id=data.sender_id,
                channel=data.channel,
                customer_id=customer_id if customer_id is not None else conversation.customer_id,
                language=data.language,
                skill=data.skill,
                team_id=data.team_id,
                priority=data.priority,
                at_risk=data.at_risk,
                high_value=data.high_value,
                reason=data.reason,
                detail=data.detail,
                state="queued" if found.unavailable is None else "cancelled",
                unavailable=found.unavailable,
                reopens_at=found.reopens_at,
                excluded_agent_ids=[],
                queued_at=now,
                cancelled_at=None if found.unavailable is None else now,
                updated_at=now,
            )

        handoff, created = await create_once(self.db, HandoffRequest, idempotency_key, build)
        if created and handoff.unavailable is not None:
            await self._publish("handoff.cancelled", handoff)
        elif created:
            await self._mirror(handoff)
            await self._publish("handoff.queued", handoff)
            await self.dispatch()
            handoff = await self.get_handoff(handoff.id)
        return handoff, created

    async def get_handoff(self, handoff_id: int) -> HandoffRequest:
        async with self.db.sessions() as session:
            handoff = await session.get(HandoffRequest, handoff_id)
        if handoff is None:
            raise NotFound(f"handoff {handoff_id} not found")
        return handoff

    async def active_handoff(self, sender_id: str) -> HandoffRequest:
        """The conversation's handoff that is queued, assigned or accepted (the latest, should there be
        several); NotFound when it has none."""
        async with self.db.sessions() as session:
            found = await session.scalar(
                select(HandoffRequest)
                .where(HandoffRequest.sender_id == sender_id, HandoffRequest.state.in_(ACTIVE_STATES))
                .order_by(HandoffRequest.id.desc())
                .limit(1)
            )
        if found is None:
            raise NotFound("no queued, assigned or accepted handoff for this conversation")
        return found

    async def queue_position(self, handoff: HandoffRequest) -> int | None:
        if handoff.state != "queued":
            return None
        try:
            await self.ensure_built()
            return await self.live.position(handoff.id)
        except Exception as error:  # reads answer from SQL while the live state is unreachable
            log.warning("routing live state unreachable, reading the queue from SQL: %r", error)
            return await (await self._queue_from_sql()).position(handoff.id)

    async def _queue_from_sql(self) -> LiveState:
        """The live state built from SQL in this process only: what reads use while Redis is unreachable."""
        fallback = InProcessLiveState()
        async with self.db.sessions() as session:
            await fallback.replace_all(await read_snapshot(session))
        return fallback

    async def queue_page(
        self, limit: int, offset: int
    ) -> tuple[list[HandoffRequest], int, list[HandoffRequest]]:
        """(queued handoffs from `offset` in queue order, how many are queued, the held handoffs)."""
        try:
            await self.ensure_built()
            entries = await self.live.queued(offset, limit)
            total = await self.live.queue_length()
        except Exception as error:  # reads answer from SQL while the live state is unreachable
            log.warning("routing live state unreachable, reading the queue from SQL: %r", error)
            fallback = await self._queue_from_sql()
            entries, total = await fallback.queued(offset, limit), await fallback.queue_length()
        ids = [entry.needs.request_id for entry in entries]
        async with self.db.sessions() as session:
            rows = {
                h.id: h
                for h in await session.scalars(select(HandoffRequest).where(HandoffRequest.id.in_(ids)))
            }
            held = list(
                await session.scalars(
                    select(HandoffRequest)
                    .where(HandoffRequest.state.in_(HOLDING_STATES))
                    .order_by(HandoffRequest.offered_at, HandoffRequest.id)
                )
            )
        return [rows[i] for i in ids if i in rows], total, held

    async def _change(
        self,
        handoff_id: int,
        target: str,
        actor: Actor | None,
        values: Callable[[HandoffRequest, datetime], dict[str, Any]],
        *,
        from_states: Sequence[str] | None = None,
    ) -> tuple[HandoffRequest, int | None]:
        """Move the handoff to `target` (checked by the state machine, and by who the actor is), setting
        `values(row, now)` too. The UPDATE is conditional on the state that was checked (as for tickets).
        Returns (the updated row, the agent it had before)."""
        for _ in range(STATE_CHANGE_ATTEMPTS):
            async with self.db.sessions() as session:
                handoff = await session.get(HandoffRequest, handoff_id)
                if handoff is None:
                    raise NotFound(f"handoff {handoff_id} not found")
                if actor is not None and actor.role != "admin" and handoff.agent_id != actor.account_id:
                    raise NotTheAssignedAgent(f"handoff {handoff_id} is not offered to or held by you")
                current, previous_agent = handoff.state, handoff.agent_id
                if from_states is not None and current not in from_states and target != current:
                    allowed = " or ".join(f"'{s}'" for s in from_states)
                    raise Conflict(f"handoff {handoff_id} is '{current}'; this needs it {allowed}")
                check_transition(current, target)
                now = self.clock()
                changes = {"state": target, "updated_at": now, **values(handoff, now)}
                result = await session.execute(
                    update(HandoffRequest)
                    .where(HandoffRequest.id == handoff_id, HandoffRequest.state == current)
                    .values(**changes)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    await session.commit()
                    await session.refresh(handoff)
                    return handoff, previous_agent
                await session.rollback()
        raise Conflict(f"handoff {handoff_id} is being changed by other requests; try again")

    async def accept(self, handoff_id: int, actor: Actor) -> HandoffRequest:
        handoff, _ = await self._change(
            handoff_id, "accepted", actor, lambda _, now: {"accepted_at": now}, from_states=("assigned",)
        )
        await self._mirror(handoff, handoff.agent_id)
        await self._publish("handoff.accepted", handoff)
        return handoff

    async def decline(self, handoff_id: int, actor: Actor | None) -> HandoffRequest:
        """Back to the queue; the agent is not offered it again."""
        return await self._requeue(handoff_id, actor, "handoff.declined", from_states=("assigned",))

    async def resolve(self, handoff_id: int, actor: Actor) -> HandoffRequest:
        handoff, agent_id = await self._change(
            handoff_id, "resolved", actor, lambda _, now: {"resolved_at": now}, from_states=("accepted",)
        )
        await self._mirror(handoff, agent_id)
        await self._publish("handoff.resolved", handoff)
        await self.dispatch()
        return handoff

    async def cancel(self, handoff_id: int, actor: Actor | None) -> HandoffRequest:
        handoff, agent_id = await self._change(
            handoff_id, "cancelled", actor, lambda _, now: {"cancelled_at": now}
        )
        await self._mirror(handoff, agent_id)
        await self._publish("handoff.cancelled", handoff)
        if agent_id is not None:
            await self.dispatch()
        return handoff

    async def record_first_response(self, handoff_id: int, actor: Actor) -> HandoffRequest:
        """The agent answered the customer (the first time stops the first-response timer)."""
        async with self.db.sessions() as session:
            handoff = await session.get(HandoffRequest, handoff_id)
            if handoff is None:
                raise NotFound(f"handoff {handoff_id} not found")
            if actor.role != "admin" and handoff.agent_id != actor.account_id:
                raise NotTheAssignedAgent(f"handoff {handoff_id} is not offered to or held by you")
            if handoff.state != "accepted":
                raise Conflict(
                    f"handoff {handoff_id} is '{handoff.state}'; only an accepted handoff is answered"
                )
            if handoff.first_response_at is None:
                now = self.clock()
                await session.execute(
                    update(HandoffRequest)
                    .where(HandoffRequest.id == handoff_id, HandoffRequest.first_response_at.is_(None))
                    .values(first_response_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
                await session.refresh(handoff)
        return handoff

    async def _requeue(
        self,
        handoff_id: int,
        actor: Actor | None,
        event: str,
        *,
        from_states: Sequence[str],
        team_id: int | None = None,
        expected_agent: int | None = None,
    ) -> HandoffRequest:
        def values(handoff: HandoffRequest, _: datetime) -> dict[str, Any]:
            if expected_agent is not None and handoff.agent_id != expected_agent:
                raise Conflict(f"handoff {handoff_id} moved to another agent meanwhile")
            excluded = sorted(
                {*handoff.excluded_agent_ids, *([handoff.agent_id] if handoff.agent_id else [])}
            )
            changes: dict[str, Any] = {
                "agent_id": None,
                "excluded_agent_ids": excluded,
                "offered_at": None,
                "accepted_at": None,
                "first_response_at": None,
            }
            if team_id is not None:
                changes["team_id"] = team_id
            return changes

        handoff, agent_id = await self._change(handoff_id, "queued", actor, values, from_states=from_states)
        await self._mirror(handoff, agent_id)
        await self._publish(event, handoff)
        await self.dispatch()
        return await self.get_handoff(handoff_id)

    async def transfer(
        self, handoff_id: int, actor: Actor, agent_id: int | None, team_id: int | None
    ) -> HandoffRequest:
        """To another agent (who must be eligible now, as routing would check), or back to the queue (of
        `team_id` when given); the agent handing it on is not offered it again."""
        if team_id is not None:
            async with self.db.sessions() as session:
                if await session.get(Team, team_id) is None:
                    raise unknown_team(team_id)
        if agent_id is None:
            return await self._requeue(
                handoff_id,
                actor,
                "handoff.transferred",
                from_states=("assigned", "accepted"),
                team_id=team_id,
            )
        current = await self.get_handoff(handoff_id)
        if actor.role != "admin" and current.agent_id != actor.account_id:
            raise NotTheAssignedAgent(f"handoff {handoff_id} is not offered to or held by you")
        if current.agent_id == agent_id:
            raise Conflict(f"handoff {handoff_id} is already with agent {agent_id}")
        async with self._offer_lock:
            await self.ensure_built()
            agents = {a.account_id: a for a in await self.live.agents()}
            target = agents.get(agent_id)
            needs = replace(
                needs_of(current), team_id=team_id or current.team_id, excluded_agents=frozenset()
            )
            if target is None or not is_eligible(target, needs, await self.live.teams(), self.clock()):
                raise Conflict(
                    f"agent {agent_id} cannot take handoff {handoff_id} now (no profile, not online, at "
                    "capacity, outside business hours, or without the language, skill or team)"
                )
            excluded = sorted(
                {*current.excluded_agent_ids, *([current.agent_id] if current.agent_id else [])}
            )
            handoff, previous = await self._change(
                handoff_id,
                "assigned",
                actor,
                lambda _, now: {
                    "agent_id": agent_id,
                    "offered_at": now,
                    "accepted_at": None,
                    "first_response_at": None,
                    "excluded_agent_ids": excluded,
                    **({"team_id": team_id} if team_id is not None else {}),
                },
                from_states=("assigned", "accepted"),
            )
            await self._mark_assigned(agent_id, handoff.offered_at or self.clock())
            await self._mirror(handoff, previous, agent_id)
        await self._publish("handoff.transferred", handoff)
        return handoff

    async def requeue_after_breach(self, handoff: HandoffRequest, kind: str) -> HandoffRequest | None:
        """An offer lapsed (kind accept) or an accepted handoff got no first answer (first_response): back to
        the queue, never to that agent again. None when the handoff changed meanwhile (nothing to do)."""
        from_state = "assigned" if kind == "accept" else "accepted"
        try:
            return await self._requeue(
                handoff.id,
                None,
                "handoff.requeued",
                from_states=(from_state,),
                expected_agent=handoff.agent_id,
            )
        except Conflict:
            return None

    async def mirror(self, handoff: HandoffRequest) -> None:
        """Put a handoff changed elsewhere (the SLA job) into the live state."""
        await self._mirror(handoff, handoff.agent_id)

    async def _mark_assigned(self, agent_id: int, at: datetime) -> None:
        async with self.db.sessions() as session:
            await session.execute(
                update(AgentProfile).where(AgentProfile.account_id == agent_id).values(last_assigned_at=at)
            )
            await session.commit()

    # --- offers -------------------------------------------------------------------------------------------

    async def dispatch(self) -> list[HandoffRequest]:
        """Offer queued handoffs, in queue order, to the agents routing chooses, until no queued handoff has
        an eligible agent. Returns the handoffs offered."""
        offered: list[HandoffRequest] = []
        refused = 0
        async with self._offer_lock:
            try:
                now = self.clock()
                while refused <= MAX_REFUSED_OFFERS:
                    await self.ensure_built()
                    decision = await next_decision(self.live, now)
                    if decision is None:
                        break
                    request_id, agent_id = decision.entry.needs.request_id, decision.agent.account_id
                    handoff = await self._offer(request_id, agent_id, now)
                    if handoff is None:
                        refused += (
                            1  # _offer marked the live state for a rebuild: the next step has SQL's view
                        )
                        continue
                    async with self._rebuild_lock:
                        await record_decision(self.live, decision, now)
                    offered.append(handoff)
            except Exception:
                log.exception("routing: dispatch failed; the queue is retried on the next change or SLA run")
                await self._invalidate()
        for handoff in offered:
            await self._publish("handoff.assigned", handoff)
        return offered

    async def _offer(self, handoff_id: int, agent_id: int, now: datetime) -> HandoffRequest | None:
        """Commit the offer, if SQL agrees: the handoff is still queued and the agent below capacity."""

        async def work(session: AsyncSession) -> HandoffRequest | None:
            if self.db.engine.dialect.name == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OFFER_LOCK_KEY})
            profile = await session.get(AgentProfile, agent_id)
            if profile is None or profile.status != "online":
                return None
            if await agent_load(session, agent_id) >= profile.capacity:
                return None
            result = await session.execute(
                update(HandoffRequest)
                .where(HandoffRequest.id == handoff_id, HandoffRequest.state == "queued")
                .values(state="assigned", agent_id=agent_id, offered_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            profile.last_assigned_at = now
            handoff = await session.get(HandoffRequest, handoff_id, populate_existing=True)
            return handoff

        result = await run_transaction(self.db.sessions, work)
        if result is None:
            # SQL and the live state disagreed (another process, a lost update): trust SQL from now on.
            await self._invalidate()
        return result

    # --- agents and teams ---------------------------------------------------------------------------------

    async def set_status(self, account_id: int, status: str) -> AgentView:
        async with self.db.sessions() as session:
            profile = await session.get(AgentProfile, account_id)
            if profile is None:
                raise NotFound(f"account {account_id} has no routing profile; an admin creates it")
            if profile.status != status:
                profile.status = status
                profile.status_changed_at = self.clock()
            profile.updated_at = self.clock()
            await session.commit()
            load = await agent_load(session, account_id)
            account = await session.get(Account, account_id)
        await self._mirror_agent(profile, load)
        if status == "online":
            await self.dispatch()
        return AgentView(profile, account.display_name if account else "", load)

    async def _mirror_agent(self, profile: AgentProfile, load: int) -> None:
        try:
            await self.ensure_built()
            async with self._rebuild_lock:
                await self.live.put_agent(agent_state(profile, load))
        except Exception:
            log.exception("routing live state update failed; it will be rebuilt from SQL")
            await self._invalidate()
        await publish_safely(
            self.events,
            "agent.status",
            {"account_id": profile.account_id, "status": profile.status, "load": load},
        )

    async def set_profile(self, account_id: int, data: AgentProfileSet) -> AgentView:
        async with self.db.sessions() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound(f"account {account_id} not found")
            if account.disabled:
                raise Conflict(f"account {account_id} is disabled")
            if data.team_id is not None and await session.get(Team, data.team_id) is None:
                raise unknown_team(data.team_id)
            now = self.clock()
            profile = await session.get(AgentProfile, account_id)
            if profile is None:
                profile = AgentProfile(account_id=account_id, status="offline", status_changed_at=now)
                session.add(profile)
            if data.status is not None and data.status != profile.status:
                profile.status = data.status
                profile.status_changed_at = now
            profile.skills = list(data.skills)
            profile.languages = list(data.languages)
            profile.capacity = data.capacity
            profile.team_id = data.team_id
            profile.updated_at = now
            await session.commit()
            load = await agent_load(session, account_id)
        await self._mirror_agent(profile, load)
        await self.dispatch()
        return AgentView(profile, account.display_name, load)

    async def list_profiles(self) -> list[AgentView]:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(AgentProfile, Account)
                    .join(Account, Account.id == AgentProfile.account_id)
                    .order_by(AgentProfile.account_id)
                )
            ).all()
            snapshot = {a.account_id: a.load for a in (await read_snapshot(session)).agents}
            return [AgentView(p, a.display_name, snapshot.get(p.account_id, 0)) for p, a in rows]

    async def create_team(self, data: TeamCreate) -> Team:
        async def work(session: AsyncSession) -> Team:
            if await session.scalar(select(Team.id).where(Team.name == data.name)) is not None:
                raise Conflict(f"a team named {data.name!r} exists already")
            now = self.clock()
            team = Team(
                name=data.name,
                time_zone=data.time_zone,
                business_hours=[o.model_dump() for o in data.business_hours],
                created_at=now,
                updated_at=now,
            )
            session.add(team)
            await session.flush()
            return team

        team = await run_transaction(self.db.sessions, work)
        await self._mirror_team(team)
        return team

    async def update_team(self, team_id: int, data: TeamUpdate) -> Team:
        async with self.db.sessions() as session:
            team = await session.get(Team, team_id)
            if team is None:
                raise NotFound(f"team {team_id} not found")
            if data.name is not None and data.name != team.name:
                if await session.scalar(select(Team.id).where(Team.name == data.name)) is not None:
                    raise Conflict(f"a team named {data.name!r} exists already")
                team.name = data.name
            if data.time_zone is not None:
                team.time_zone = data.time_zone
            if data.business_hours is not None:
                team.business_hours = [o.model_dump() for o in data.business_hours]
            team.updated_at = self.clock()
            await session.commit()
        await self._mirror_team(team)
        await self.dispatch()  # new hours may open the team now
        return team

    async def _mirror_team(self, team: Team) -> None:
        try:
            await self.ensure_built()
            async with self._rebuild_lock:
                await self.live.put_team(team_hours(team))
        except Exception:
            log.exception("routing live state update failed; it will be rebuilt from SQL")
            await self._invalidate()

    async def list_teams(self) -> list[Team]:
        async with self.db.sessions() as session:
            return list(await session.scalars(select(Team).order_by(Team.name)))
