"""The metrics' arithmetic on rows already read: pure functions, the same on every database
(docs/METRICS.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median

from cs_backend.analytics.schemas import Metrics, Period

CSAT_SATISFIED = (4, 5)
CSAT_SCORES = range(1, 6)
CES_SCORES = range(1, 8)
# A new session of the same conversation within this long after one ended means the first did not settle it.
REPEAT_CONTACT_WINDOW = timedelta(days=7)
RESOLVED_IN_CONTACT = ("resolved_by_bot", "escalated")


def period_start(day: date, period: Period) -> date:
    """The first day of the UTC day, ISO week (Monday) or month containing `day`."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def next_period_start(start: date, period: Period) -> date:
    """The first day of the period after the one starting on `start`."""
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def periods_between(first: date, last: date, period: Period) -> list[date]:
    """Every period start from the one containing `first` to the one containing `last`, in order."""
    starts: list[date] = []
    current = period_start(first, period)
    while current <= last:
        starts.append(current)
        current = next_period_start(current, period)
    return starts


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def median_or_none(values: Sequence[float]) -> float | None:
    return float(median(values)) if values else None


@dataclass
class Tally:
    """What one group (a period, an intent, a channel, an agent) has collected."""

    csat: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CSAT_SCORES, 0))
    ces: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CES_SCORES, 0))
    # None: the sessions (or the handoffs) cannot be grouped this way, so their metrics are null.
    sessions: list[SessionFacts] | None = field(default_factory=list)
    first_responses: list[float] | None = field(default_factory=list)
    resolutions: list[float] | None = field(default_factory=list)
    handoffs: int | None = 0

    def add_rating(self, kind: str, score: int, count: int) -> None:
        scores = self.csat if kind == "csat" else self.ces
        if score in scores:
            scores[score] += count

    def size(self) -> int:
        return (
            sum(self.csat.values()) + sum(self.ces.values()) + len(self.sessions or ()) + (self.handoffs or 0)
        )

    def metrics(self) -> Metrics:
        csat_total = sum(self.csat.values())
        ces_total = sum(self.ces.values())
        sessions = self.sessions
        decided = [s for s in sessions if s.outcome != "abandoned"] if sessions is not None else []
        return Metrics(
            csat_percent=_percent(sum(self.csat[s] for s in CSAT_SATISFIED), csat_total),
            csat_responses=csat_total,
            ces_mean=(sum(s * n for s, n in self.ces.items()) / ces_total) if ces_total else None,
            ces_responses=ces_total,
            sessions=len(sessions) if sessions is not None else None,
            containment_rate=ratio(sum(s.outcome == "resolved_by_bot" for s in sessions), len(sessions))
            if sessions is not None
            else None,
            handoff_rate=ratio(sum(s.outcome == "escalated" for s in sessions), len(sessions))
            if sessions is not None
            else None,
            first_contact_resolution=ratio(sum(s.resolved_first_time for s in decided), len(decided))
            if sessions is not None
            else None,
            handoffs=self.handoffs,
            median_first_response_seconds=median_or_none(self.first_responses)
            if self.first_responses is not None
            else None,
            median_resolution_seconds=median_or_none(self.resolutions)
            if self.resolutions is not None
            else None,
        )


def _percent(part: int, whole: int) -> float | None:
    share = ratio(part, whole)
    return None if share is None else round(100 * share, 2)


@dataclass(frozen=True)
class SessionFacts:
    """One decided conversation session, with whether it was settled at the first contact."""

    ended_at: datetime
    channel: str
    intents: tuple[str, ...]
    outcome: str
    resolved_first_time: bool


def settled_first_time(
    outcome: str,
    sender_id: str,
    started_at: datetime,
    ended_at: datetime,
    later_starts: dict[str, list[datetime]],
) -> bool:
    """Resolved in this contact (by the bot, or by the person it was handed to) and the same conversation
    did not come back within REPEAT_CONTACT_WINDOW of its end."""
    if outcome not in RESOLVED_IN_CONTACT:
        return False
    deadline = ended_at + REPEAT_CONTACT_WINDOW
    return not any(started_at < start <= deadline for start in later_starts.get(sender_id, ()))


def group_starts(rows: Iterable[tuple[str, datetime]]) -> dict[str, list[datetime]]:
    starts: dict[str, list[datetime]] = {}
    for sender_id, started_at in rows:
        starts.setdefault(sender_id, []).append(started_at)
    return starts
