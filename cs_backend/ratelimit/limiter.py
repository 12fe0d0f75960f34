"""Counts requests against rate limits with the `limits` library's moving window.

`create_limiter(redis_url)`: with REDIS_URL, the counts live in Redis and every backend process shares them;
without it (the embedded default), in this process. While Redis is unreachable, the Redis limiter counts in
this process instead, as the replay store does (cs_backend/auth/replay.py): requests keep being served, each
process then limiting on its own.

Why not fail closed (429/503 for everyone): a support product must keep taking the tickets and ratings of
customers while Redis is down, and Redis holds nothing those writes need. Why not fail open (no limit at
all): counting per process still stops one client's flood, at the price of a limit that is at most the
number of processes times looser for the length of the outage. The outage is logged once (a warning), and
so is the recovery, not once per request.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis.asyncio as redis
from limits import RateLimitItem
from limits import parse as parse_limit
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class RateLimit:
    """One limit (e.g. "120/minute") under a name that keeps its counts apart from other limits'."""

    name: str
    item: RateLimitItem

    @classmethod
    def parse(cls, name: str, notation: str) -> RateLimit:
        parsed = parse_limit(notation)
        return cls(name, type(parsed)(parsed.amount, parsed.multiples, namespace=name))


class Limiter:
    """Counts hits on a moving window, in this process."""

    def __init__(self) -> None:
        self._storage = MemoryStorage()
        self._local = MovingWindowRateLimiter(self._storage)

    async def hit(self, limit: RateLimit, key: str) -> int | None:
        """Counts one request for `key`; None when it is within `limit`, else the seconds until one more fits
        (the request over the limit is not counted)."""
        return await _hit(self._local, limit, key)

    async def over(self, limit: RateLimit, key: str) -> int | None:
        """None while `key` has room for one more request within `limit` (counting nothing), else the
        seconds until it has."""
        return await _over(self._local, limit, key)

    async def check(self) -> None:
        """Raise if the shared counts cannot be reached (for /health/ready); in-process counts always can."""
        return None

    async def close(self) -> None:
        # The memory storage expires its entries in a task of its own.
        timer = self._storage.timer
        if timer is not None and not timer.done():
            timer.cancel()


class RedisLimiter(Limiter):
    """Counts in Redis, shared by every process using it; in this process while Redis is unreachable."""

    def __init__(self, url: str, key_prefix: str) -> None:
        super().__init__()
        # Our own pool, so that its timeouts are ours and close() can release it.
        self._pool = redis.ConnectionPool.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )
        storage = RedisStorage(
            "async+" + url,
            implementation="redispy",
            key_prefix=key_prefix,
            wrap_exceptions=True,
            connection_pool=self._pool,  # type: ignore[arg-type]  # passed on to redis.asyncio.Redis
        )
        self._shared = MovingWindowRateLimiter(storage)
        self._redis_down = False

    async def hit(self, limit: RateLimit, key: str) -> int | None:
        try:
            retry_after = await _hit(self._shared, limit, key)
        except (StorageError, RedisError, OSError) as error:
            self._falling_back(error)
            return await super().hit(limit, key)
        self._shared_again()
        return retry_after

    async def over(self, limit: RateLimit, key: str) -> int | None:
        try:
            retry_after = await _over(self._shared, limit, key)
        except (StorageError, RedisError, OSError) as error:
            self._falling_back(error)
            return await super().over(limit, key)
        self._shared_again()
        return retry_after

    def _falling_back(self, error: Exception) -> None:
        if not self._redis_down:
            log.warning("rate limits: Redis unavailable, counting in this process only: %r", error)
            self._redis_down = True

    def _shared_again(self) -> None:
        if self._redis_down:
            log.info("rate limits: Redis reachable again, counting in Redis")
            self._redis_down = False

    async def check(self) -> None:
        # A client over our pool, which it leaves open (it closes only a pool it created).
        await redis.Redis(connection_pool=self._pool).ping()

    async def close(self) -> None:
        await self._pool.aclose()
        await super().close()


async def _retry_after(strategy: MovingWindowRateLimiter, limit: RateLimit, key: str) -> int:
    window = await strategy.get_window_stats(limit.item, key)
    return max(1, math.ceil(window.reset_time - time.time()))


async def _hit(strategy: MovingWindowRateLimiter, limit: RateLimit, key: str) -> int | None:
    if await strategy.hit(limit.item, key):
        return None
    return await _retry_after(strategy, limit, key)


async def _over(strategy: MovingWindowRateLimiter, limit: RateLimit, key: str) -> int | None:
    if await strategy.test(limit.item, key):
        return None
    return await _retry_after(strategy, limit, key)


def create_limiter(redis_url: str | None, key_prefix: str) -> Limiter:
    if redis_url:
        return RedisLimiter(redis_url, key_prefix)
    return Limiter()
