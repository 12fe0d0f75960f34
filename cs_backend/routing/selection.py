"""The routing rules as pure functions (no I/O, time passed in): who may take a handoff, which of them gets
it, and where a waiting handoff stands in the queue (docs/HANDOFF.md, "Routing rules").

Both live-state implementations (live_state.py) and the SQL rebuild feed these same functions, so the rules
exist once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from cs_backend.routing.models import PRIORITIES

# The queue score is rank * RANK_SPAN + milliseconds since the epoch: one number that orders by rank first,
# then by waiting time, exact in a float64 (Redis sorted-set scores) until the year 2286.
RANK_SPAN = 10**13
# Ranks within one priority: both flags (at risk and high value) first, then one of them, then none.
FLAG_LEVELS = 3


@dataclass(frozen=True)
class OpeningHours:
    """One opening of a team on a weekday (0 = Monday), in the team's local time. `closes` at or before
    `opens` means the opening runs past midnight into the next day (22:00-06:00)."""

    weekday: int
    opens: time
    closes: time

    @property
    def crosses_midnight(self) -> bool:
        return self.closes <= self.opens


@dataclass(frozen=True)
class TeamHours:
    team_id: int
    time_zone: str
    openings: tuple[OpeningHours, ...]


@dataclass(frozen=True)
class AgentState:
    """What routing knows of an agent at one moment: the profile, the presence and the current load."""

    account_id: int
    status: str
    capacity: int
    load: int
    skills: frozenset[str]
    languages: frozenset[str]
    team_id: int | None = None
    # When the agent was last given a handoff (round robin among the equally loaded); None: never.
    last_assigned_at: datetime | None = None


@dataclass(frozen=True)
class HandoffNeeds:
    """What a handoff asks of its agent, and who may not get it again (they declined it or let it lapse)."""

    request_id: int
    language: str
    skill: str | None = None
    team_id: int | None = None
    excluded_agents: frozenset[int] = field(default_factory=frozenset)


def is_open(hours: TeamHours, at: datetime) -> bool:
    """Whether the team is within its business hours at the instant `at` (timezone-aware), in its time zone.

    An opening that crosses midnight counts on its own weekday until midnight and on the next weekday from
    midnight until it closes (Sunday 22:00-02:00 covers Monday 01:00).
    """
    local = at.astimezone(ZoneInfo(hours.time_zone))
    moment = local.time().replace(tzinfo=None)
    today = local.weekday()
    yesterday = (today - 1) % 7
    for opening in hours.openings:
        if opening.crosses_midnight:
            if opening.weekday == today and moment >= opening.opens:
                return True
            if opening.weekday == yesterday and moment < opening.closes:
                return True
        elif opening.weekday == today and opening.opens <= moment < opening.closes:
            return True
    return False


def next_opening(hours: TeamHours, at: datetime) -> datetime | None:
    """The first moment after `at` at which one of the team's openings starts (timezone-aware, in the team's
    zone), or None for a team without openings. Every opening recurs weekly, so a week ahead is enough."""
    zone = ZoneInfo(hours.time_zone)
    today = at.astimezone(zone).date()
    starts = []
    for days_ahead in range(8):
        day = today + timedelta(days=days_ahead)
        for opening in hours.openings:
            if opening.weekday == day.weekday():
                start = datetime.combine(day, opening.opens, tzinfo=zone)
                if start > at:
                    starts.append(start)
    return min(starts) if starts else None


def is_eligible(agent: AgentState, needs: HandoffNeeds, teams: dict[int, TeamHours], now: datetime) -> bool:
    """Online, below capacity, speaks the language, has the skill (if one is needed), is in the team (if one
    is needed), is within their team's business hours (an agent without a team has no hours of their own),
    and has not declined or let this handoff lapse before."""
    if agent.status != "online" or agent.load >= agent.capacity:
        return False
    if agent.account_id in needs.excluded_agents:
        return False
    if needs.language not in agent.languages:
        return False
    if needs.skill is not None and needs.skill not in agent.skills:
        return False
    if needs.team_id is not None and agent.team_id != needs.team_id:
        return False
    if agent.team_id is not None:
        team = teams.get(agent.team_id)
        if team is None or not is_open(team, now):
            return False
    return True


_NEVER = datetime.min.replace(tzinfo=ZoneInfo("UTC"))


def _rotation_key(agent: AgentState) -> tuple[int, datetime, int]:
    # Least loaded first; among equals, the one who waited longest since their last handoff (never first),
    # which takes the equally loaded in turn; the account id settles the rest.
    return (agent.load, agent.last_assigned_at or _NEVER, agent.account_id)


def routing_class(needs: HandoffNeeds) -> str:
    """Handoffs of one class ask the same of their agent, exclusions aside: "language|skill|team" (an empty
    skill or team: any)."""
    return f"{needs.language}|{needs.skill or ''}|{needs.team_id or ''}"


@lru_cache(maxsize=4096)
def parse_routing_class(routing_class: str) -> tuple[str, str, int | None]:
    language, skill, team = routing_class.split("|")
    return language, skill, int(team) if team else None


class Roster:
    """The agents who can take a handoff at `now` (online, below capacity, their team open), by language:
    what `is_eligible` checks that does not depend on the handoff, worked out once for many handoffs (each
    team's hours once, not once per agent and handoff).

    `previous`: a roster built earlier for the same teams; when its teams are open at `now` as they were
    then, only the agents that changed since (other objects: agents are immutable) are worked out again, as
    between two routing decisions, where one agent's load moved."""

    def __init__(
        self,
        agents: Iterable[AgentState],
        teams: dict[int, TeamHours],
        now: datetime,
        previous: Roster | None = None,
    ) -> None:
        self.teams = teams
        self.open_teams = frozenset(team_id for team_id, team in teams.items() if is_open(team, now))
        self.agents = {agent.account_id: agent for agent in agents}
        self.by_language: dict[str, list[AgentState]] = {}
        # Whether some agent here could serve a routing class (exclusions aside), worked out when first asked.
        self._serves: dict[str, bool] = {}
        if previous is not None and previous.teams == teams and previous.open_teams == self.open_teams:
            changed = [agent for key, agent in self.agents.items() if previous.agents.get(key) is not agent]
            gone = [agent for key, agent in previous.agents.items() if key not in self.agents]
            if len(changed) + len(gone) <= len(self.agents) // 8:
                self._update(previous, changed, gone)
                return
        for agent in self.agents.values():
            if self._available(agent):
                for language in agent.languages:
                    self.by_language.setdefault(language, []).append(agent)

    def _available(self, agent: AgentState) -> bool:
        if agent.status != "online" or agent.load >= agent.capacity:
            return False
        return agent.team_id is None or agent.team_id in self.open_teams

    def _update(self, previous: Roster, changed: list[AgentState], gone: list[AgentState]) -> None:
        # The lists of the languages no changed agent speaks (or spoke) are shared, never modified.
        self.by_language = dict(previous.by_language)
        earlier = [previous.agents[a.account_id] for a in changed if a.account_id in previous.agents] + gone
        replaced = {agent.account_id for agent in earlier}
        for language in {language for agent in (*changed, *earlier) for language in agent.languages}:
            available = [
                agent for agent in previous.by_language.get(language, ()) if agent.account_id not in replaced
            ]
            available += [a for a in changed if language in a.languages and self._available(a)]
            if available:
                self.by_language[language] = available
            else:
                self.by_language.pop(language, None)

    def __bool__(self) -> bool:
        return bool(self.by_language)

    def serves_class(self, routing_class: str) -> bool:
        """Whether some agent here could take a handoff of this class (exclusions aside)."""
        served = self._serves.get(routing_class)
        if served is None:
            language, skill, team_id = parse_routing_class(routing_class)
            served = any(
                (not skill or skill in agent.skills) and (team_id is None or agent.team_id == team_id)
                for agent in self.by_language.get(language, ())
            )
            self._serves[routing_class] = served
        return served

    def choose(self, needs: HandoffNeeds) -> AgentState | None:
        """The least loaded eligible agent, round robin on ties; None when nobody is eligible."""
        best: AgentState | None = None
        best_key: tuple[int, datetime, int] | None = None
        for agent in self.by_language.get(needs.language, ()):
            if needs.skill is not None and needs.skill not in agent.skills:
                continue
            if needs.team_id is not None and agent.team_id != needs.team_id:
                continue
            if agent.account_id in needs.excluded_agents:
                continue
            key = _rotation_key(agent)
            if best_key is None or key < best_key:
                best, best_key = agent, key
        return best


def choose_agent(
    needs: HandoffNeeds, agents: Iterable[AgentState], teams: dict[int, TeamHours], now: datetime
) -> AgentState | None:
    """The agent who gets the handoff: among the eligible (`is_eligible`), the least loaded, round robin on
    ties; None when nobody is eligible."""
    return Roster(agents, teams, now).choose(needs)


def queue_rank(priority: str, at_risk: bool, high_value: bool) -> int:
    """0 is served first: urgent before high before normal before low; within a priority, a customer at risk
    and of high value first, then one of the two, then the rest."""
    flags = int(at_risk) + int(high_value)
    return PRIORITIES.index(priority) * FLAG_LEVELS + (FLAG_LEVELS - 1 - flags)


def queue_score(priority: str, at_risk: bool, high_value: bool, queued_at: datetime) -> float:
    """The queue order as one number (lower first): the rank, then the longest waiting."""
    milliseconds = int(queued_at.timestamp() * 1000)
    return float(queue_rank(priority, at_risk, high_value) * RANK_SPAN + milliseconds)


def raised(priority: str) -> str:
    """The next priority up (urgent stays urgent): what an SLA breach escalates to."""
    index = PRIORITIES.index(priority)
    return PRIORITIES[max(0, index - 1)]
