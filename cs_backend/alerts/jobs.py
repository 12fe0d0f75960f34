"""Delivery of the alerts' webhooks, by a periodic job (cs_backend/jobs.py) reading alert_deliveries.

Each run POSTs the due pending deliveries to ALERT_WEBHOOK_URL, signed (alerts/signing.py). A 2xx answer
delivers it; a connection error, a timeout, 408, 429 or 5xx is tried again later (5 s, 10 s, 20 s, ... at
most an hour apart) until ALERT_DELIVERY_MAX_ATTEMPTS; any other answer (the receiver refuses this body: it
will refuse it again) and the last failed attempt make it dead, logged with the cause. A delivery is marked
after its POST, so a crash between the two sends it again: receivers deduplicate by X-CS-Delivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web
from sqlalchemy import select

from cs_backend.alerts.models import AlertDelivery
from cs_backend.alerts.signing import DELIVERY_HEADER, SIGNATURE_HEADER, signature
from cs_backend.app_keys import DATABASE, SETTINGS
from cs_backend.config import Settings
from cs_backend.db import Database
from cs_backend.jobs import AdvisoryLock, Clock, PeriodicJob, job_context

log = logging.getLogger(__name__)

JOB_NAME = "alert-delivery"
# The job's advisory lock key ("alertdlv").
ADVISORY_LOCK_KEY = 0x616C657274646C76
BATCH_SIZE = 20
REQUEST_TIMEOUT_SECONDS = 10.0
FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 3600.0
RETRIED_STATUSES = frozenset({408, 429})
ERROR_MAX_LENGTH = 500


@dataclass(frozen=True)
class DeliveryRun:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** (attempts - 1), MAX_RETRY_SECONDS))


@dataclass
class AlertSender:
    """Sends the due deliveries; `unix_time` stamps the signatures (tests inject it)."""

    db: Database
    settings: Settings
    http: aiohttp.ClientSession
    unix_time: Callable[[], float] = time.time

    async def deliver_due(self, now: datetime) -> DeliveryRun:
        url, secret = self.settings.alert_webhook_url, self.settings.alert_webhook_secret
        if url is None or secret is None:
            return DeliveryRun()  # alerts queued while a URL was set wait until one is set again
        async with self.db.sessions() as session:
            due = list(
                await session.scalars(
                    select(AlertDelivery)
                    .where(AlertDelivery.state == "pending", AlertDelivery.next_attempt_at <= now)
                    .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
                    .limit(BATCH_SIZE)
                )
            )
        counts = {"delivered": 0, "retried": 0, "dead": 0}
        for delivery in due:
            error, final = await self._post(url, secret, delivery)
            outcome = self._outcome(delivery, error, final)
            counts[outcome] += 1
            await self._record(delivery, outcome, error, now)
        return DeliveryRun(**counts)

    async def _post(self, url: str, secret: str, delivery: AlertDelivery) -> tuple[str | None, bool]:
        """(None, _) once delivered, else (the error, whether trying again is pointless)."""
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(secret, int(self.unix_time()), body),
            DELIVERY_HEADER: str(delivery.id),
        }
        try:
            async with self.http.post(url, data=body, headers=headers, allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    return None, False
                retried = response.status in RETRIED_STATUSES or response.status >= 500
                return f"HTTP {response.status}", not retried
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            return f"{error.__class__.__name__}: {error}"[:ERROR_MAX_LENGTH], False

    def _outcome(self, delivery: AlertDelivery, error: str | None, final: bool) -> str:
        if error is None:
            return "delivered"
        if final or delivery.attempts + 1 >= self.settings.alert_delivery_max_attempts:
            # The URL is a credential (Slack's carries its token): the log names the delivery only.
            log.warning(
                "alert delivery %d (task %d) given up after %d attempts: %s",
                delivery.id,
                delivery.task_id,
                delivery.attempts + 1,
                error,
            )
            return "dead"
        return "retried"

    async def _record(self, delivery: AlertDelivery, outcome: str, error: str | None, now: datetime) -> None:
        async with self.db.sessions() as session:
            row = await session.get(AlertDelivery, delivery.id)
            if row is None:  # its task was deleted meanwhile (the customer's deletion)
                return
            row.attempts += 1
            row.last_error = error
            if outcome == "delivered":
                row.state, row.delivered_at = "delivered", now
            elif outcome == "dead":
                row.state = "dead"
            else:
                row.next_attempt_at = now + retry_delay(row.attempts)
            await session.commit()


def delivery_job(sender: AlertSender) -> PeriodicJob[DeliveryRun]:
    async def run(clock: Clock) -> DeliveryRun:
        return await sender.deliver_due(clock())

    return PeriodicJob(
        JOB_NAME,
        sender.settings.alert_delivery_interval_seconds,
        run,
        lock=AdvisoryLock(sender.db, ADVISORY_LOCK_KEY),
        run_at_start=True,
    )


@asynccontextmanager
async def _delivery_job_of(app: web.Application) -> AsyncIterator[PeriodicJob[DeliveryRun] | None]:
    settings = app[SETTINGS]
    if settings.alert_webhook_url is None:
        yield None
        return
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        yield delivery_job(AlertSender(app[DATABASE], settings, http))


# Registered after the database's context, which outlives it.
delivery_job_context = job_context(_delivery_job_of)
