"""The widget's message ids: a message the widget sends again (its acknowledgement was lost to a dropped
connection) reaches Rasa once.

The widget gives each message an id of its own and keeps the message until the server acknowledges it, which
the server does after Rasa has handled it; a message whose acknowledgement never came is sent again with the
same id after the reconnection. The latest `capacity` (conversation, id) pairs are remembered in this process:
a Rasa restart between handling a message and acknowledging it is the one case this does not cover.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

# Longer than any id the widget makes (a UUID is 36 characters), short enough to cost nothing to keep.
MAX_ID_CHARS = 64
DEFAULT_CAPACITY = 20_000


def message_id(value: Any) -> str | None:
    """The widget's id of a message, or None when it sent none usable (the message is then simply handled)."""
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS:
        return value
    return None


class SeenMessageIds:
    """The (sender id, message id) pairs of the latest messages, oldest forgotten first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def first_time(self, sender_id: str, message_id: str) -> bool:
        """True the first time the pair is seen (and remembers it), False for a resend."""
        key = (sender_id, message_id)
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True
