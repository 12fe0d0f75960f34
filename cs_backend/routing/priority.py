"""The priority suggested to the agent in a handoff's packet (docs/HANDOFF.md, "The handoff packet").

The suggestion starts from the handoff's own priority and only ever raises it:

- **urgent** when one of the customer's last messages says it is urgent ("urgent", "asap", "critical",
  "emergency", "blocker", "production is down"; "not urgent" does not count);
- at least **high** when the customer is flagged at risk or high value, their last CSAT is 1 or 2, or they
  have a churn signal still open or ending in a cancellation.

Each rule that raised it is named in the reasons, so the agent sees why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cs_backend.routing.models import PRIORITIES

# Customer messages (the latest) read for urgent words.
URGENCY_MESSAGES: Final = 5
LOW_CSAT: Final = 2
# Churn outcomes that are still a risk: nothing decided yet, or the customer is leaving.
RISKY_CHURN_OUTCOMES: Final = frozenset({"open", "cancelling"})

_URGENCY = re.compile(
    r"\b(urgent(ly)?|asap|a\.s\.a\.p\.?|critical|emergency|blocker|"
    r"(production|prod|site|website|app|everything|service)\s+(is\s+)?(completely\s+)?down)\b"
)
_NOT_URGENT = re.compile(
    r"\b(not|isn't|isnt|no|nothing)\s+(very\s+|too\s+|that\s+|so\s+)?(urgent|critical)\b"
)


def says_urgent(text: str) -> bool:
    lowered = text.lower()
    return _URGENCY.search(_NOT_URGENT.sub(" ", lowered)) is not None


@dataclass(frozen=True)
class PriorityFacts:
    priority: str
    at_risk: bool
    high_value: bool
    last_csat: int | None
    churn_outcomes: Sequence[str]
    customer_messages: Sequence[str]


@dataclass(frozen=True)
class Suggestion:
    priority: str
    reasons: list[str]


def _higher(first: str, second: str) -> str:
    return min(first, second, key=PRIORITIES.index)


def suggest_priority(facts: PriorityFacts) -> Suggestion:
    priority = facts.priority
    reasons = [f"handoff requested as {facts.priority}"]
    if any(says_urgent(text) for text in facts.customer_messages[-URGENCY_MESSAGES:]):
        priority = _higher(priority, "urgent")
        reasons.append("the customer's last messages say it is urgent")
    raising = []
    if facts.at_risk:
        raising.append("customer flagged at risk")
    if facts.high_value:
        raising.append("customer flagged high value")
    if facts.last_csat is not None and facts.last_csat <= LOW_CSAT:
        raising.append(f"last CSAT {facts.last_csat} of 5")
    if any(outcome in RISKY_CHURN_OUTCOMES for outcome in facts.churn_outcomes):
        raising.append("an open churn signal or a cancellation")
    if raising:
        priority = _higher(priority, "high")
        reasons.extend(raising)
    return Suggestion(priority, reasons)
