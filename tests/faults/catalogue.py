"""The faults, one at a time: what breaks, and how the service is brought back.

Each is injected while customers are at the last answer of the ticket form (they send it as the fault
starts), so their ticket and their ratings are written during the outage; other customers start at that
moment and meet it wherever their conversation is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tests.faults.stack import ACTIONS, BACKEND, RASA, FaultStack

# How long each outage lasts before the service is brought back: long enough for the customers waiting at
# the gate to send their ticket and their ratings into it.
OUTAGE_SECONDS = 8.0


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    inject: Callable[[FaultStack], Awaitable[None]]
    recover: Callable[[FaultStack], Awaitable[None]]


async def _kill_backend(stack: FaultStack) -> None:
    await stack.kill_process(BACKEND)


async def _start_backend(stack: FaultStack) -> None:
    await stack.start_process(BACKEND)


async def _kill_actions(stack: FaultStack) -> None:
    await stack.kill_process(ACTIONS)


async def _start_actions(stack: FaultStack) -> None:
    await stack.start_process(ACTIONS)


async def _stop_rasa(stack: FaultStack) -> None:
    await stack.stop_process(RASA)


async def _start_rasa(stack: FaultStack) -> None:
    await stack.start_process(RASA)


async def _stop_postgres(stack: FaultStack) -> None:
    await asyncio.to_thread(stack.postgres.stop)


async def _start_postgres(stack: FaultStack) -> None:
    await asyncio.to_thread(stack.postgres.start)


async def _stop_redis(stack: FaultStack) -> None:
    await asyncio.to_thread(stack.redis.stop)


async def _start_redis(stack: FaultStack) -> None:
    await asyncio.to_thread(stack.redis.start)


FAULTS: tuple[Fault, ...] = (
    Fault("kill-backend", "kill -9 cs_backend, then start it again", _kill_backend, _start_backend),
    Fault("kill-actions", "kill -9 the action server, then start it again", _kill_actions, _start_actions),
    Fault("restart-rasa", "restart the Rasa server (SIGTERM, then start)", _stop_rasa, _start_rasa),
    Fault("stop-postgres", "stop PostgreSQL (fast shutdown), then start it", _stop_postgres, _start_postgres),
    Fault("stop-redis", "stop Redis, then start it (empty)", _stop_redis, _start_redis),
)
