"""Live events: tell open agent consoles and pages that a ticket or a rating changed.

Two implementations of one protocol, chosen by REDIS_URL (see `create_live_events`):
- RedisLiveEvents: Redis pub/sub, so every backend process sees every event.
- InProcessLiveEvents: asyncio queues, enough for a single process (the default, no Redis needed).

Delivery is best effort on purpose. Events are published after the database commit and SQL stays the
source of truth: a subscriber that was not connected, too slow, or cut off re-reads the REST resources.

Usage:
    async with live_events.subscribe() as subscription:    # registered when this returns: nothing is missed
        async for event in subscription:                   # ends when the subscription or the store closes
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import redis.asyncio as redis

log = logging.getLogger(__name__)

# Per subscriber; a subscriber this far behind starts losing events (and recovers by re-reading over REST).
SUBSCRIBER_QUEUE_SIZE = 1000


@dataclass(frozen=True)
class LiveEvent:
    type: str
    payload: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({"type": self.type, "payload": self.payload}, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | bytes) -> LiveEvent:
        decoded = json.loads(data)
        return cls(type=str(decoded["type"]), payload=dict(decoded["payload"]))


class Subscription:
    """A stream of live events fed through a bounded queue: iterate it, then close it (or leave its block)."""

    _END = object()

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE_SIZE)
        self.closed = False

    def deliver(self, event: LiveEvent) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning(
                "live-events subscriber is %d events behind; dropping %s", self._queue.qsize(), event.type
            )

    def end(self) -> None:
        """End the iteration after the events already queued (idempotent, safe from any task)."""
        if self.closed:
            return
        self.closed = True
        while True:
            try:
                self._queue.put_nowait(self._END)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()  # the end marker matters more than the oldest event

    async def next(self, timeout: float | None = None) -> LiveEvent | None:
        """The next event, None after `timeout` seconds without one; StopAsyncIteration once ended."""
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        if item is self._END:
            self._queue.put_nowait(self._END)  # later calls end too
            raise StopAsyncIteration
        return item

    def __aiter__(self) -> AsyncIterator[LiveEvent]:
        return self

    async def __anext__(self) -> LiveEvent:
        event = await self.next()
        assert event is not None  # no timeout, so there is always an event or the end
        return event

    async def open(self) -> None:
        """Start receiving (subclasses connect here)."""

    async def close(self) -> None:
        self.end()

    async def __aenter__(self) -> Subscription:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class LiveEvents(Protocol):
    async def publish(self, type: str, payload: dict[str, Any]) -> None:
        """Send an event to every current subscriber (may raise if the transport is down)."""

    def subscribe(self) -> Subscription:
        """A subscription; use it as `async with` so it is registered before events are awaited."""

    async def check(self) -> None:
        """Raise if the store cannot deliver events (used by /health/ready)."""

    async def close(self) -> None:
        """End every subscription and release connections."""


@dataclass
class InProcessLiveEvents:
    """Events delivered to subscribers of this process only, through asyncio queues."""

    _subscriptions: set[_InProcessSubscription] = field(default_factory=set)

    async def publish(self, type: str, payload: dict[str, Any]) -> None:
        event = LiveEvent(type, payload)
        for subscription in list(self._subscriptions):
            subscription.deliver(event)

    def subscribe(self) -> Subscription:
        return _InProcessSubscription(self._subscriptions)

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.close()


class _InProcessSubscription(Subscription):
    def __init__(self, registry: set[_InProcessSubscription]) -> None:
        super().__init__()
        self._registry = registry

    async def open(self) -> None:
        self._registry.add(self)

    async def close(self) -> None:
        self._registry.discard(self)
        self.end()


class RedisLiveEvents:
    """Events published on one Redis pub/sub channel, so every backend process sees them.

    Each process holds one subscriber connection, started with the first local subscription, and fans the
    messages out to its local subscriptions (one Redis connection per process, not per open browser tab).
    If that connection is lost, the local subscriptions end (their clients reconnect) and the next
    subscription connects again.
    """

    def __init__(self, url: str, channel: str, timeout: float = 2.0) -> None:
        self.channel = channel
        # Timeouts: a Redis that hangs must not hang the requests whose events it carries.
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        # The listener blocks on reads indefinitely, so its connection has no read timeout.
        self._listener_redis = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=None)
        self._local = InProcessLiveEvents()
        self._listener: asyncio.Task[None] | None = None
        self._listener_lock = asyncio.Lock()

    async def publish(self, type: str, payload: dict[str, Any]) -> None:
        await self._redis.publish(self.channel, LiveEvent(type, payload).to_json())

    def subscribe(self) -> Subscription:
        return _RedisSubscription(self)

    async def check(self) -> None:
        await self._redis.ping()

    async def _ensure_listening(self) -> None:
        async with self._listener_lock:
            if self._listener is not None and not self._listener.done():
                return
            pubsub = self._listener_redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                # Wait for Redis's confirmation: only then are events published from other connections
                # guaranteed to reach us (a caller may publish right after `async with subscribe()`).
                while True:
                    message = await asyncio.wait_for(pubsub.get_message(timeout=None), 5.0)
                    if message is not None and message["type"] == "subscribe":
                        break
            except BaseException:
                await pubsub.aclose()
                raise
            self._listener = asyncio.create_task(self._listen(pubsub), name="redis-live-events-listener")

    async def _listen(self, pubsub: redis.client.PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is None or message["type"] != "message":
                    continue
                try:
                    event = LiveEvent.from_json(message["data"])
                except (ValueError, KeyError, TypeError):
                    log.warning("ignoring a malformed live event on %s", self.channel)
                    continue
                await self._local.publish(event.type, event.payload)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("live-events connection to Redis lost: %s: %s", error.__class__.__name__, error)
        finally:
            await self._local.close()  # subscribers end; their clients reconnect and re-read over REST
            try:
                await pubsub.aclose()
            except Exception as error:  # closing a broken connection may fail; nothing is left to release
                log.debug("closing the live-events pub/sub connection: %s", error)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        await self._local.close()
        await self._redis.aclose()
        await self._listener_redis.aclose()


class _RedisSubscription(_InProcessSubscription):
    """A local subscription, fed by the store's single Redis listener."""

    def __init__(self, store: RedisLiveEvents) -> None:
        super().__init__(store._local._subscriptions)
        self._store = store

    async def open(self) -> None:
        await self._store._ensure_listening()
        # No await since the listener was found running: it cannot have ended before we are registered
        # (and if it ends later, it ends this subscription too).
        await super().open()


def create_live_events(redis_url: str | None, channel: str) -> LiveEvents:
    if redis_url:
        return RedisLiveEvents(redis_url, channel)
    return InProcessLiveEvents()


PUBLISH_TIMEOUT_SECONDS = 2.0


async def publish_safely(live_events: LiveEvents, type: str, payload: dict[str, Any]) -> None:
    """Publish, but never fail (or stall) the request that caused the event: it is committed already, and
    subscribers recover missed events from the REST resources. Failures are logged."""
    try:
        await asyncio.wait_for(live_events.publish(type, payload), PUBLISH_TIMEOUT_SECONDS)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.warning("could not publish live event %s: %s: %s", type, error.__class__.__name__, error)
