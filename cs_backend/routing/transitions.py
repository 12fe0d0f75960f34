"""The handoff state machine (docs/HANDOFF.md): queued → assigned → accepted → resolved, or cancelled."""

from __future__ import annotations

from cs_backend.api.errors import Conflict

# state → the states it may move to. Resolved and cancelled are final.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    # Offered to an agent, or given up before anyone took it.
    "queued": frozenset({"assigned", "cancelled"}),
    # Accepted; back to the queue (declined, lapsed, transferred to the queue); offered to another agent
    # (transferred); given up.
    "assigned": frozenset({"accepted", "queued", "assigned", "cancelled"}),
    # Finished; back to the queue (transferred, no first answer in time); offered to another agent
    # (transferred); given up.
    "accepted": frozenset({"resolved", "queued", "assigned", "cancelled"}),
    "resolved": frozenset(),
    "cancelled": frozenset(),
}


def check_transition(current: str, target: str) -> None:
    """Raise Conflict (409) naming both states unless `current` → `target` is allowed."""
    allowed = ALLOWED_TRANSITIONS.get(current, frozenset())
    if target in allowed:
        return
    if not allowed:
        reason = f"a '{current}' handoff is finished"
    elif target == current:
        reason = "it is already in that state"
    else:
        reason = f"from '{current}' a handoff can only move to " + ", ".join(
            f"'{s}'" for s in sorted(allowed)
        )
    raise Conflict(f"cannot move handoff from '{current}' to '{target}': {reason}")
