"""The signatures already used within the validity window, so that a captured request cannot be sent again.

`RedisSeenSignatures` (REDIS_URL set) is shared by every backend process: `SET key 1 NX PX ttl` succeeds
only for the first one. `InProcessSeenSignatures` (the embedded default) keeps them in memory, each until
it expires. While Redis is unreachable, the Redis store falls back to one in this process: requests keep
being served (as with live events, a broken Redis never fails requests) and replays to this process are
still refused; only a replay to another process during the outage could pass.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY_PREFIX = "cs_backend:auth:seen:"
REDIS_TIMEOUT_SECONDS = 3.0


class SeenSignatures(Protocol):
    async def first_use(self, signature: str, ttl_seconds: float) -> bool:
        """Records `signature` for `ttl_seconds`; False when it was already recorded and has not expired."""

    async def close(self) -> None: ...


class InProcessSeenSignatures:
    """Signatures of this process, each kept until it expires (`clock`: monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # signature -> expiry, in insertion order; with one ttl for all, that is also expiry order.
        self._expiries: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expiries)

    async def first_use(self, signature: str, ttl_seconds: float) -> bool:
        now = self._clock()
        self._forget_expired(now)
        if signature in self._expiries:
            return False
        self._expiries[signature] = now + ttl_seconds
        return True

    def _forget_expired(self, now: float) -> None:
        while self._expiries:
            oldest, expiry = next(iter(self._expiries.items()))
            if expiry > now:
                break
            del self._expiries[oldest]

    async def close(self) -> None:
        self._expiries.clear()


class RedisSeenSignatures:
    """Signatures shared by every process using this Redis (keys expire on their own)."""

    def __init__(self, url: str, key_prefix: str = KEY_PREFIX) -> None:
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )
        self._key_prefix = key_prefix
        self._fallback = InProcessSeenSignatures()
        self._redis_down = False

    async def first_use(self, signature: str, ttl_seconds: float) -> bool:
        try:
            stored = await self._redis.set(
                self._key_prefix + signature, b"1", nx=True, px=max(1, int(ttl_seconds * 1000))
            )
        except (RedisError, OSError) as error:
            if not self._redis_down:  # once per outage, not once per request
                log.warning("replay store: Redis unavailable, checking in this process only: %r", error)
                self._redis_down = True
            return await self._fallback.first_use(signature, ttl_seconds)
        if self._redis_down:
            log.info("replay store: Redis reachable again")
            self._redis_down = False
        return bool(stored)

    async def close(self) -> None:
        await self._redis.aclose()
        await self._fallback.close()


def create_seen_signatures(redis_url: str | None, key_prefix: str = KEY_PREFIX) -> SeenSignatures:
    if redis_url:
        return RedisSeenSignatures(redis_url, key_prefix)
    return InProcessSeenSignatures()
