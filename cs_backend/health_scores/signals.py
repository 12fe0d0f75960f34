"""Health signals: "something happened to this customer, rescore them", published after a commit by the
domains whose data the score reads, and consumed by health_scores/consumer.py.

Two implementations of one protocol, chosen by REDIS_URL (`create_health_signals`):
- RedisHealthSignals: a Redis stream (XADD) read by a consumer group (XREADGROUP), so the backend processes
  share the work and a signal is acknowledged (XACK) only once its rescore has committed. A consumer that
  dies leaves its signals pending; every consumer claims (XAUTOCLAIM) signals pending longer than
  `claim_idle_seconds`, at its start and then regularly, so they are rescored by someone else.
- InProcessHealthSignals: an asyncio queue, enough for the one process of the embedded default; a signal
  whose rescore failed is put back.

Publishing never fails the request that caused the signal (it is committed already): a failure is logged
and the customer's score waits for their next signal or `python -m cs_backend health-rescore`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as redis
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 2.0
# The stream keeps about this many signals (XADD MAXLEN ~): far more than are ever waiting.
STREAM_MAX_LENGTH = 100_000
IN_PROCESS_QUEUE_SIZE = 10_000
REASON_MAX_LENGTH = 64


@dataclass(frozen=True)
class Signal:
    customer_id: int
    reason: str
    # The stream entry's id (Redis), to acknowledge it.
    entry_id: str | None = None


class HealthSignals(Protocol):
    async def publish(self, customer_id: int | None, reason: str) -> None:
        """Ask for this customer's rescore (None: no customer, nothing to do). Never raises."""

    async def read(self, count: int, block_seconds: float) -> list[Signal]:
        """Up to `count` signals, waiting up to `block_seconds` for the first."""

    async def ack(self, signals: Sequence[Signal]) -> None:
        """These signals are handled (their rescore committed)."""

    async def release(self, signals: Sequence[Signal]) -> None:
        """These signals could not be handled now: they are to be read again later."""

    async def close(self) -> None:
        """Release connections."""


class InProcessHealthSignals:
    def __init__(self, max_size: int = IN_PROCESS_QUEUE_SIZE) -> None:
        self._queue: asyncio.Queue[Signal] = asyncio.Queue(maxsize=max_size)

    async def publish(self, customer_id: int | None, reason: str) -> None:
        if customer_id is None:
            return
        try:
            self._queue.put_nowait(Signal(customer_id, reason[:REASON_MAX_LENGTH]))
        except asyncio.QueueFull:
            log.warning(
                "health signals: %d waiting; dropping %s of customer %d",
                self._queue.qsize(),
                reason,
                customer_id,
            )

    async def read(self, count: int, block_seconds: float) -> list[Signal]:
        try:
            first = await asyncio.wait_for(self._queue.get(), block_seconds)
        except asyncio.TimeoutError:
            return []
        signals = [first]
        while len(signals) < count and not self._queue.empty():
            signals.append(self._queue.get_nowait())
        return signals

    async def ack(self, signals: Sequence[Signal]) -> None:
        return None

    async def release(self, signals: Sequence[Signal]) -> None:
        for signal in signals:
            await self.publish(signal.customer_id, signal.reason)

    async def close(self) -> None:
        return None


def consumer_name() -> str:
    """This process's name in the consumer group: unique, and telling an operator where it runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RedisHealthSignals:
    def __init__(
        self,
        url: str,
        stream: str,
        group: str,
        *,
        consumer: str | None = None,
        claim_idle_seconds: float = 60.0,
        timeout: float = 2.0,
    ) -> None:
        self.stream = stream
        self.group = group
        self.consumer = consumer or consumer_name()
        self.claim_idle_seconds = claim_idle_seconds
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        # Blocking reads wait longer than the other calls' timeout.
        self._reader = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=None)
        self._group_ready = False
        self._last_claim = float("-inf")

    async def publish(self, customer_id: int | None, reason: str) -> None:
        if customer_id is None:
            return
        fields = {"customer_id": str(customer_id), "reason": reason[:REASON_MAX_LENGTH]}
        try:
            await asyncio.wait_for(
                self._redis.xadd(self.stream, fields, maxlen=STREAM_MAX_LENGTH, approximate=True),  # type: ignore[arg-type]
                PUBLISH_TIMEOUT_SECONDS,
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning(
                "health signals: could not publish %s of customer %d: %s: %s",
                reason,
                customer_id,
                error.__class__.__name__,
                error,
            )

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From the stream's start: signals published before the first consumer ever ran count too.
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    async def read(self, count: int, block_seconds: float) -> list[Signal]:
        await self._ensure_group()
        now = time.monotonic()
        if now - self._last_claim >= self.claim_idle_seconds:
            self._last_claim = now
            claimed = await self._claim(count)
            if claimed:
                return claimed
        answer: Any = await self._reader.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: ">"},
            count=count,
            block=max(int(block_seconds * 1000), 1),
        )
        return [signal for _, entries in answer or [] for signal in self._signals(entries)]

    async def _claim(self, count: int) -> list[Signal]:
        """Signals pending with any consumer (one that died, or this one after a failed rescore) for longer
        than claim_idle_seconds, now this consumer's."""
        answer = await self._redis.xautoclaim(
            self.stream, self.group, self.consumer, int(self.claim_idle_seconds * 1000), "0-0", count=count
        )
        claimed = self._signals(answer[1])
        if claimed:
            log.info(
                "health signals: claimed %d pending signal(s) of stopped or failed consumers", len(claimed)
            )
        return claimed

    def _signals(self, entries: Sequence[tuple[bytes, dict[bytes, bytes] | None]]) -> list[Signal]:
        signals = []
        for entry_id, fields in entries:
            entry = entry_id.decode()
            try:
                assert fields is not None
                signals.append(Signal(int(fields[b"customer_id"]), fields[b"reason"].decode(), entry))
            except (AssertionError, KeyError, ValueError, UnicodeDecodeError):
                # Not ours (or trimmed away while pending): acknowledged by the consumer as handled.
                log.warning("health signals: ignoring malformed entry %s of %s", entry, self.stream)
                signals.append(Signal(0, "malformed", entry))
        return signals

    async def ack(self, signals: Sequence[Signal]) -> None:
        ids = [signal.entry_id for signal in signals if signal.entry_id is not None]
        if ids:
            await self._redis.xack(self.stream, self.group, *ids)

    async def release(self, signals: Sequence[Signal]) -> None:
        # Left pending: claimed again (by this consumer or another) once idle for claim_idle_seconds.
        return None

    async def close(self) -> None:
        await self._redis.aclose()
        await self._reader.aclose()


def create_health_signals(
    redis_url: str | None, stream: str, group: str, claim_idle_seconds: float = 60.0
) -> HealthSignals:
    if redis_url:
        return RedisHealthSignals(redis_url, stream, group, claim_idle_seconds=claim_idle_seconds)
    return InProcessHealthSignals()
