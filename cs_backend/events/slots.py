"""The cap on open event streams (GET /api/events): each holds a connection and a subscription for as long
as the client stays, so this process serves at most EVENT_STREAMS_MAX at once, and one caller (an account, or
the service) at most EVENT_STREAMS_PER_PRINCIPAL_MAX. A stream over a cap is refused before it subscribes;
the streams already open are not touched."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from cs_backend.api.errors import ServiceUnavailable, TooManyRequests

# A stream is usually open for minutes: retrying sooner than this rarely finds a free slot.
RETRY_AFTER_SECONDS = 30


class StreamSlots:
    def __init__(self, total_max: int, per_caller_max: int) -> None:
        self._total_max = total_max
        self._per_caller_max = per_caller_max
        self._open: Counter[str] = Counter()

    def open_count(self, caller: str | None = None) -> int:
        return self._open[caller] if caller is not None else self._open.total()

    @contextmanager
    def slot(self, caller: str) -> Iterator[None]:
        """Holds one slot for `caller` while the stream is open; raises 503 or 429 when there is none."""
        if self._open.total() >= self._total_max:
            raise ServiceUnavailable("too many open event streams on this server", RETRY_AFTER_SECONDS)
        if self._open[caller] >= self._per_caller_max:
            raise TooManyRequests("too many open event streams for this caller", RETRY_AFTER_SECONDS)
        self._open[caller] += 1
        try:
            yield
        finally:
            self._open[caller] -= 1
            if self._open[caller] <= 0:
                del self._open[caller]
