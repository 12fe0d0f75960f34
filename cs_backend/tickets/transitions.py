"""The ticket status workflow (docs/API_CONTRACT.md, PATCH /api/tickets/{id})."""

from __future__ import annotations

from cs_backend.api.errors import Conflict

# status → the statuses it may move to. Closed is final; resolved may be reopened.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"pending", "resolved"}),
    "pending": frozenset({"open", "resolved"}),
    "resolved": frozenset({"closed", "open"}),
    "closed": frozenset(),
}


def check_transition(current: str, target: str) -> None:
    """Raise Conflict (409) naming both states unless `current` → `target` is allowed."""
    allowed = ALLOWED_TRANSITIONS.get(current, frozenset())
    if target in allowed:
        return
    if target == current:
        reason = "it already has that status"
    elif allowed:
        reason = f"from '{current}' a ticket can only move to " + ", ".join(f"'{s}'" for s in sorted(allowed))
    else:
        reason = f"a '{current}' ticket cannot change status"
    raise Conflict(f"cannot change ticket status from '{current}' to '{target}': {reason}")
