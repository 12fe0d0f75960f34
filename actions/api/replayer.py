"""Sends the outbox's pending writes to cs_backend, oldest first, until each is settled.

A 2xx settles an entry as `delivered`; a refusal of what it carries (400, 404, 409, 413, 415, 422: sending it
again cannot help) as `dead`, logged as an error and kept for an operator. Anything else (no answer, a 5xx,
429, 401/403 while the service's secret is being fixed) leaves it pending and stops the pass, so later
entries never overtake it; the next pass comes after an exponential backoff (or the answer's Retry-After).
When nothing is blocked, a pass runs every `idle_interval` seconds, and at once when an action queues a
write. bot/action_server.py runs one replayer in the action-server process, from its start: what was pending
before a restart is sent first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from actions.api.client import BackendClient
from actions.api.errors import BackendError, BackendUnavailable
from actions.api.outbox import Outbox, OutboxError
from actions.api.request_context import bind

logger = logging.getLogger(__name__)

IDLE_INTERVAL_SECONDS = 5.0
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
# How many pending entries one pass reads at a time.
_BATCH = 100


@dataclass(frozen=True)
class ReplayPass:
    """What one pass did: entries delivered and declared dead, and whether an entry is still blocking (then
    `retry_after` is the backend's Retry-After, if it gave one)."""

    delivered: int = 0
    dead: int = 0
    blocked: bool = False
    retry_after: float | None = None


class OutboxReplayer:
    """Replays `outbox` through clients made by `client_factory` (one attempt each: the replayer paces the
    retries itself)."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        client_factory: Callable[[], BackendClient] | None = None,
        idle_interval: float = IDLE_INTERVAL_SECONDS,
        first_backoff: float = FIRST_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        self.outbox = outbox
        self._client_factory = client_factory or (lambda: BackendClient(attempts=1, outbox=outbox))
        self._idle_interval = idle_interval
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- running in the background --------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self.outbox.add_listener(self._wake.set)
            self._task = asyncio.get_running_loop().create_task(self.run(), name="outbox-replayer")

    async def stop(self) -> None:
        self.outbox.remove_listener(self._wake.set)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        """Passes until cancelled; a failing pass (even the outbox's file) is logged and retried later."""
        backoff = self._first_backoff
        while True:
            self._wake.clear()
            try:
                result = await self.replay_pending()
            except OutboxError as error:
                logger.error("outbox replay paused: %s", error)
                result = ReplayPass(blocked=True)
            except Exception:  # a bug must not end the replays for the rest of the process's life
                logger.exception("outbox replay failed")
                result = ReplayPass(blocked=True)
            if result.blocked:
                delay = max(backoff, result.retry_after or 0.0)
                backoff = min(self._max_backoff, backoff * 2)
                await asyncio.sleep(min(delay, self._max_backoff))
            else:
                backoff = self._first_backoff
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_interval)

    # --- one pass -------------------------------------------------------------------------------------------

    async def replay_pending(self) -> ReplayPass:
        """Sends the pending entries in order, until one cannot be settled now."""
        delivered = dead = 0
        async with self._client_factory() as client:
            while entries := await self.outbox.pending(_BATCH):
                for entry in entries:
                    # This task's log lines name the request that queued the entry (its X-Request-ID).
                    bind(entry.request_id, None)
                    try:
                        answer = await client.deliver(entry)
                    except BackendUnavailable as error:
                        await self.outbox.record_failure(entry.id, error.message)
                        logger.info("outbox entry %s not delivered yet: %s", entry.id, error.message)
                        return ReplayPass(delivered, dead, blocked=True)
                    if 200 <= answer.status < 300:
                        await self.outbox.mark_delivered(entry.id)
                        logger.info(
                            "outbox entry %s delivered: %s %s answered %s (attempt %s)",
                            entry.id,
                            entry.method,
                            entry.path,
                            answer.status,
                            entry.attempts + 1,
                        )
                        delivered += 1
                        continue
                    message = _error_message(answer.status, answer.payload)
                    if BackendError(answer.status, message).is_refusal:
                        await self.outbox.mark_dead(entry.id, message)
                        logger.error(
                            "outbox entry %s refused for good (kept as dead): %s %s answered %s: %s",
                            entry.id,
                            entry.method,
                            entry.path,
                            answer.status,
                            message,
                        )
                        dead += 1
                        continue
                    await self.outbox.record_failure(entry.id, message)
                    logger.warning(
                        "outbox entry %s not delivered yet: %s %s answered %s",
                        entry.id,
                        entry.method,
                        entry.path,
                        answer.status,
                    )
                    return ReplayPass(delivered, dead, blocked=True, retry_after=answer.retry_after)
        return ReplayPass(delivered, dead)


def _error_message(status: int, payload: object) -> str:
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return f"HTTP {status}: {error['message']}"
    return f"HTTP {status}"
