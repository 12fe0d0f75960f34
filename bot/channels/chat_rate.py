"""How many messages one conversation may send in a while: more than CHAT_MESSAGES_PER_WINDOW within
CHAT_RATE_WINDOW_SECONDS get a polite answer and never reach Rasa (guard.py), so one sender cannot keep NLU
and the tracker store busy for everyone.

The window is kept in this process: Rasa runs as one process in every topology of this project (the launcher,
`make run`, the production example), so this process sees every message of a conversation. Several Rasa
processes behind a balancer would each allow the limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping

MESSAGES_VARIABLE = "CHAT_MESSAGES_PER_WINDOW"
WINDOW_VARIABLE = "CHAT_RATE_WINDOW_SECONDS"
# 30 a minute: a person types a message every few seconds at the most, and presses a button a second at
# the most; a script flooding one conversation is slowed to that pace.
DEFAULT_MESSAGES = 30
DEFAULT_WINDOW_SECONDS = 60.0

TOO_MANY_ANSWER = (
    "You're sending messages faster than I can read them — please wait a moment, then send your question "
    "again."
)
TOO_MANY_ANSWER_ZH = "您发消息的速度比我读的还快——请稍等片刻，再把问题发一次。"


class ChatRateLimitError(ValueError):
    """CHAT_MESSAGES_PER_WINDOW or CHAT_RATE_WINDOW_SECONDS is set to something unusable."""


class ConversationRateLimit:
    """At most `max_messages` admitted per conversation within any `window_seconds` (a sliding window).

    `clock`: monotonic seconds. Conversations silent for a whole window are forgotten, so memory follows the
    conversations active in the last window, not every conversation ever seen.
    """

    def __init__(
        self, max_messages: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_messages = max_messages
        self.window_seconds = window_seconds
        self._clock = clock
        # sender id -> times of its admitted messages in the window; least recently active first.
        self._recent: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._recent)

    def admit(self, sender_id: str) -> bool:
        """Counts a message of `sender_id`; False when the conversation is over the limit (not counted)."""
        now = self._clock()
        since = now - self.window_seconds
        self._forget_silent(since)
        times = self._recent.setdefault(sender_id, deque())
        self._recent.move_to_end(sender_id)
        while times and times[0] <= since:
            times.popleft()
        if len(times) >= self.max_messages:
            return False
        times.append(now)
        return True

    def _forget_silent(self, since: float) -> None:
        while self._recent:
            sender_id, times = next(iter(self._recent.items()))
            if times and times[-1] > since:
                break
            del self._recent[sender_id]


def _setting(environ: Mapping[str, str], name: str, default: float, whole: bool) -> float:
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        number = 0
    if not number > 0 or number == float("inf"):
        kind = "a whole number" if whole else "a number of seconds"
        raise ChatRateLimitError(f"{name} must be {kind} above 0, not {value!r}")
    return number


def rate_limit_from(environ: Mapping[str, str]) -> ConversationRateLimit:
    """The limit of CHAT_MESSAGES_PER_WINDOW (30 by default) per CHAT_RATE_WINDOW_SECONDS (60)."""
    max_messages = int(_setting(environ, MESSAGES_VARIABLE, DEFAULT_MESSAGES, whole=True))
    window_seconds = _setting(environ, WINDOW_VARIABLE, DEFAULT_WINDOW_SECONDS, whole=False)
    return ConversationRateLimit(max_messages, window_seconds)
