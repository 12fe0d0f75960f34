"""A one-line progress bar on stderr for long commands (`python -m cs_backend health-rescore`): redrawn in
place with a carriage return, at most every `min_interval` seconds, and ended with a newline."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressBar:
    def __init__(
        self,
        total: int,
        label: str,
        *,
        stream: TextIO | None = None,
        width: int = 30,
        min_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._min_interval = min_interval
        self._clock = clock
        self._started = clock()
        self._drawn_at = float("-inf")

    def advance(self, count: int) -> None:
        self.done = min(self.done + count, self.total)
        now = self._clock()
        if now - self._drawn_at >= self._min_interval:
            self._draw(now)

    def finish(self) -> None:
        self._draw(self._clock())
        self._stream.write("\n")
        self._stream.flush()

    def line(self, now: float) -> str:
        share = self.done / self.total if self.total else 1.0
        filled = int(share * self._width)
        elapsed = max(now - self._started, 1e-9)
        return (
            f"{self.label} [{'#' * filled}{'.' * (self._width - filled)}] "
            f"{self.done}/{self.total} {share:4.0%} {self.done / elapsed:,.0f}/s"
        )

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        self._stream.write("\r" + self.line(now))
        self._stream.flush()
