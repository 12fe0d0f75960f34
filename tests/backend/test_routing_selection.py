"""The routing rules (cs_backend/routing/selection.py), pure: eligibility (skills, languages, team, status,
capacity, business hours across time zones and midnight, agents excluded from a handoff), the least loaded
agent with round robin on ties, and the queue order."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from cs_backend.routing.selection import (
    AgentState,
    HandoffNeeds,
    OpeningHours,
    Roster,
    TeamHours,
    choose_agent,
    is_eligible,
    is_open,
    next_opening,
    queue_score,
    raised,
)

# A Wednesday, 10:00 UTC.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
WEEKDAYS = range(5)


def agent(account_id: int, **overrides: object) -> AgentState:
    values: dict[str, object] = {
        "account_id": account_id,
        "status": "online",
        "capacity": 3,
        "load": 0,
        "skills": frozenset({"billing"}),
        "languages": frozenset({"en"}),
    }
    values.update(overrides)
    return AgentState(**values)  # type: ignore[arg-type]


def needs(**overrides: object) -> HandoffNeeds:
    values: dict[str, object] = {"request_id": 1, "language": "en", "skill": "billing"}
    values.update(overrides)
    return HandoffNeeds(**values)  # type: ignore[arg-type]


def office(
    team_id: int, zone: str, opens: str = "09:00", closes: str = "17:00", days: range = WEEKDAYS
) -> TeamHours:
    openings = tuple(OpeningHours(day, time.fromisoformat(opens), time.fromisoformat(closes)) for day in days)
    return TeamHours(team_id, zone, openings)


def test_an_agent_must_have_the_skill_unless_none_is_needed() -> None:
    assert is_eligible(agent(1), needs(skill="billing"), {}, NOW)
    assert not is_eligible(agent(1), needs(skill="technical"), {}, NOW)
    assert is_eligible(agent(1, skills=frozenset()), needs(skill=None), {}, NOW)


def test_an_agent_must_speak_the_language() -> None:
    bilingual = agent(1, languages=frozenset({"en", "zh"}))
    assert is_eligible(bilingual, needs(language="zh"), {}, NOW)
    assert not is_eligible(agent(2), needs(language="zh"), {}, NOW)


@pytest.mark.parametrize("status", ["away", "offline"])
def test_only_online_agents_are_eligible(status: str) -> None:
    assert not is_eligible(agent(1, status=status), needs(), {}, NOW)


def test_an_agent_at_capacity_is_not_eligible() -> None:
    assert is_eligible(agent(1, capacity=2, load=1), needs(), {}, NOW)
    assert not is_eligible(agent(1, capacity=2, load=2), needs(), {}, NOW)


def test_a_team_handoff_goes_only_to_that_teams_agents() -> None:
    teams = {7: office(7, "UTC"), 8: office(8, "UTC")}
    assert is_eligible(agent(1, team_id=7), needs(team_id=7), teams, NOW)
    assert not is_eligible(agent(2, team_id=8), needs(team_id=7), teams, NOW)
    assert not is_eligible(agent(3), needs(team_id=7), teams, NOW)
    # Without a team asked for, any team's agent (within hours) will do.
    assert is_eligible(agent(2, team_id=8), needs(), teams, NOW)


def test_an_agent_who_declined_or_let_the_handoff_lapse_is_not_picked_again() -> None:
    assert not is_eligible(agent(1), needs(excluded_agents=frozenset({1})), {}, NOW)
    assert choose_agent(
        needs(excluded_agents=frozenset({1})), [agent(1), agent(2, load=2)], {}, NOW
    ) == agent(2, load=2)


def test_agents_of_a_closed_team_are_not_eligible_and_agents_without_a_team_have_no_hours() -> None:
    # 10:00 UTC is 18:00 in Shanghai: closed; 11:00 in Paris: open.
    teams = {1: office(1, "Asia/Shanghai"), 2: office(2, "Europe/Paris")}
    assert not is_eligible(agent(1, team_id=1), needs(), teams, NOW)
    assert is_eligible(agent(2, team_id=2), needs(), teams, NOW)
    assert is_eligible(agent(3), needs(), teams, NOW)
    # A team routing does not know (deleted meanwhile) is never open.
    assert not is_eligible(agent(4, team_id=99), needs(), teams, NOW)


@pytest.mark.parametrize(
    ("utc_moment", "open_in_new_york"),
    [
        (datetime(2026, 11, 25, 13, 59, tzinfo=UTC), False),  # 08:59 EST
        (datetime(2026, 11, 25, 14, 0, tzinfo=UTC), True),  # 09:00 EST: opening time is in
        (datetime(2026, 11, 25, 21, 59, tzinfo=UTC), True),  # 16:59 EST
        (datetime(2026, 11, 25, 22, 0, tzinfo=UTC), False),  # 17:00 EST: closing time is out
        (datetime(2026, 7, 1, 13, 0, tzinfo=UTC), True),  # 09:00 EDT: daylight saving time follows the zone
        (datetime(2026, 11, 28, 15, 0, tzinfo=UTC), False),  # Saturday 10:00 EST
        (datetime(2026, 11, 28, 3, 0, tzinfo=UTC), False),  # Friday 22:00 EST, Saturday in UTC
    ],
)
def test_business_hours_are_the_teams_local_time(utc_moment: datetime, open_in_new_york: bool) -> None:
    assert is_open(office(1, "America/New_York"), utc_moment) is open_in_new_york


def test_an_opening_across_midnight_counts_on_both_days() -> None:
    # Sunday 22:00 to Monday 02:00, Tokyo time (UTC+9).
    night = TeamHours(1, "Asia/Tokyo", (OpeningHours(6, time(22, 0), time(2, 0)),))
    sunday_2300 = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
    monday_0130 = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)
    monday_0200 = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
    sunday_2159 = datetime(2026, 11, 29, 12, 59, tzinfo=UTC)
    tuesday_0100 = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert is_open(night, sunday_2300)
    assert is_open(night, monday_0130)
    assert not is_open(night, monday_0200)
    assert not is_open(night, sunday_2159)
    assert not is_open(night, tuesday_0100)  # only the night after Sunday


def test_a_team_without_openings_is_never_open() -> None:
    assert not is_open(TeamHours(1, "UTC", ()), NOW)


@pytest.mark.parametrize(
    ("at", "reopens"),
    [
        # Wednesday 10:00 UTC is 05:00 in New York: today at 09:00 local (14:00 UTC).
        (NOW, datetime(2026, 11, 25, 14, 0, tzinfo=UTC)),
        # Friday 18:00 in New York: Monday 09:00 local.
        (datetime(2026, 11, 27, 23, 0, tzinfo=UTC), datetime(2026, 11, 30, 14, 0, tzinfo=UTC)),
        # Open now: the next opening is tomorrow's.
        (datetime(2026, 11, 25, 15, 0, tzinfo=UTC), datetime(2026, 11, 26, 14, 0, tzinfo=UTC)),
        # Across daylight saving time (8 March 2026 in New York): 09:00 local is 13:00 UTC then.
        (datetime(2026, 3, 7, 12, 0, tzinfo=UTC), datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
    ],
)
def test_the_next_opening_is_in_the_teams_local_time(at: datetime, reopens: datetime) -> None:
    assert next_opening(office(1, "America/New_York"), at) == reopens


def test_a_team_without_openings_never_reopens() -> None:
    assert next_opening(TeamHours(1, "UTC", ()), NOW) is None


def test_the_least_loaded_eligible_agent_gets_the_handoff() -> None:
    agents = [
        agent(1, load=2),
        agent(2, load=1),
        agent(3, load=0, status="away"),
        agent(4, load=1, capacity=1),
    ]
    chosen = choose_agent(needs(), agents, {}, NOW)
    assert chosen is not None and chosen.account_id == 2


def test_nobody_eligible_means_no_agent() -> None:
    assert choose_agent(needs(language="zh"), [agent(1), agent(2)], {}, NOW) is None
    assert choose_agent(needs(), [], {}, NOW) is None


def test_equally_loaded_agents_take_turns() -> None:
    """Round robin on ties: whoever was given a handoff longest ago (never first) is next."""
    agents = {i: agent(i, capacity=10) for i in (1, 2, 3)}
    order = []
    moment = NOW
    for _ in range(6):
        chosen = choose_agent(needs(), agents.values(), {}, moment)
        assert chosen is not None
        order.append(chosen.account_id)
        # Each resolves at once (load back to 0) but is remembered as the last assigned.
        agents[chosen.account_id] = replace(chosen, last_assigned_at=moment)
        moment += timedelta(seconds=1)
    assert order == [1, 2, 3, 1, 2, 3]


def test_load_beats_the_rotation() -> None:
    rested = agent(1, load=1, last_assigned_at=None)
    busy_recently = agent(2, load=0, last_assigned_at=NOW)
    chosen = choose_agent(needs(), [rested, busy_recently], {}, NOW)
    assert chosen is not None and chosen.account_id == 2


def test_queue_order_priority_then_flags_then_longest_waiting() -> None:
    t0 = NOW
    entries = {
        "low, waiting longest": queue_score("low", False, False, t0),
        "normal": queue_score("normal", False, False, t0 + timedelta(minutes=1)),
        "normal, at risk": queue_score("normal", True, False, t0 + timedelta(minutes=5)),
        "normal, high value": queue_score("normal", False, True, t0 + timedelta(minutes=4)),
        "normal, at risk and high value": queue_score("normal", True, True, t0 + timedelta(minutes=9)),
        "normal, earlier": queue_score("normal", False, False, t0),
        "high": queue_score("high", False, False, t0 + timedelta(minutes=30)),
        "urgent": queue_score("urgent", False, False, t0 + timedelta(hours=2)),
    }
    assert sorted(entries, key=entries.__getitem__) == [
        "urgent",
        "high",
        "normal, at risk and high value",
        "normal, high value",
        "normal, at risk",
        "normal, earlier",
        "normal",
        "low, waiting longest",
    ]


def test_queue_scores_keep_millisecond_order_for_centuries() -> None:
    late = datetime(2200, 1, 1, tzinfo=UTC)
    a = queue_score("low", False, False, late)
    b = queue_score("low", False, False, late + timedelta(milliseconds=1))
    assert b - a == 1
    # A rank is never overtaken by the next one, however long the wait (until the year 2286).
    assert queue_score("urgent", True, True, late) < queue_score("urgent", True, False, NOW)


def test_escalation_raises_the_priority_one_step() -> None:
    assert [raised(p) for p in ("low", "normal", "high", "urgent")] == ["normal", "high", "urgent", "urgent"]


def roster_as_rules_see_it(
    roster: Roster, agents: list[AgentState], teams: dict[int, TeamHours], now: datetime
) -> tuple[object, ...]:
    """Everything a decision asks a roster, for every class and handoff these agents could be asked about."""
    classes = [
        f"{language}|{skill}|{team}"
        for language in ("en", "zh", "es")
        for skill in ("", "billing", "technical", "api")
        for team in ("", "1", "2")
    ]
    handoffs = [
        needs(language=language, skill=skill, team_id=team, excluded_agents=frozenset(excluded))
        for language in ("en", "zh", "es")
        for skill in (None, "billing", "technical", "api")
        for team in (None, 1, 2)
        for excluded in ((), (1, 2, 3))
    ]
    expected = [choose_agent(h, agents, teams, now) for h in handoffs]
    return (
        bool(roster),
        {
            language: sorted(a.account_id for a in available)
            for language, available in roster.by_language.items()
        },
        [roster.serves_class(name) for name in classes],
        [roster.choose(h) for h in handoffs] == expected,
    )


@pytest.mark.parametrize("seed", range(5))
def test_a_roster_built_from_the_previous_one_is_the_roster_built_afresh(seed: int) -> None:
    """Between decisions a roster reworks only the agents that changed (selection.Roster's `previous`): loads
    and rotation moving, agents coming and going, a team closing; it must answer as a roster built afresh."""
    rng = random.Random(seed)
    teams = {
        1: office(1, "UTC", "08:00", "20:00", range(7)),
        2: office(2, "Asia/Tokyo", "08:00", "12:00", range(7)),
    }
    profiles = {
        i: agent(
            i,
            status=rng.choice(["online", "online", "away"]),
            capacity=rng.randint(1, 3),
            load=rng.randint(0, 2),
            skills=frozenset(rng.sample(["billing", "technical", "api"], rng.randint(1, 2))),
            languages=frozenset(rng.sample(["en", "zh", "es"], rng.randint(1, 2))),
            team_id=rng.choice([None, 1, 2]),
            last_assigned_at=NOW - timedelta(seconds=rng.randint(0, 99)),
        )
        for i in range(1, 41)
    }
    now = NOW
    previous = Roster(list(profiles.values()), teams, now)
    for step in range(60):
        change = rng.random()
        if change < 0.7:  # an offer or a finished handoff: one agent's load and rotation move
            who = rng.choice(list(profiles))
            profiles[who] = replace(
                profiles[who], load=rng.randint(0, 3), last_assigned_at=now + timedelta(seconds=step)
            )
        elif change < 0.8:
            profiles.pop(rng.choice(list(profiles)), None)
        elif change < 0.9:
            new_id = 100 + step
            profiles[new_id] = agent(new_id, languages=frozenset({rng.choice(["en", "zh", "es"])}), team_id=2)
        else:  # the Tokyo team opens or closes: the previous roster cannot be reused
            now += timedelta(hours=rng.choice([3, 5]))
        agents = list(profiles.values())
        roster = Roster(agents, dict(teams), now, previous)
        fresh = Roster(agents, teams, now)
        assert roster_as_rules_see_it(roster, agents, teams, now) == roster_as_rules_see_it(
            fresh, agents, teams, now
        ), f"step {step}"
        previous = roster
