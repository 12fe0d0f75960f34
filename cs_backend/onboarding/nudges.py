"""Stalled onboarding customers, and the nudges sent to them through Rasa.

A customer is stalled when their onboarding is not complete and their last onboarding activity (the latest
completed step; without any, their first contact: when the customer was created) is older than
ONBOARDING_STALLED_AFTER_HOURS. Only customers with a conversation can be nudged, on their most recently
active one, through Rasa's external event API:

    POST {RASA_URL}/conversations/{sender_id}/trigger_intent?output_channel={channel}
    {"name": "EXTERNAL_onboarding_nudge", "entities": {"onboarding_step": "<next step key>"}}

(Rasa runs with --enable-api.) A nudge is recorded in onboarding_nudges only once Rasa answered 2xx, at most
once per customer and step; a failure is logged and the nudge is tried again on the next run. Delivery is
at least once: a run cancelled between Rasa's answer and the record sends that nudge again next time.

The job runs every ONBOARDING_NUDGE_INTERVAL_SECONDS inside the backend (onboarding_context, a cleanup
context of the app: the first run one interval after startup, 0 disables it), and once with
`python -m cs_backend nudge-stalled`. On PostgreSQL a run holds an advisory lock, so several backend
processes never nudge at the same time (the others skip that run). Every function takes `now`, so tests
inject the clock.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import aiohttp
from aiohttp import web
from sqlalchemy import case, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from yarl import URL

from cs_backend.app_keys import DATABASE, ONBOARDING_CHECKLIST, SETTINGS
from cs_backend.config import Settings
from cs_backend.conversations.models import Conversation
from cs_backend.customers.models import Customer
from cs_backend.db import Database, run_transaction, utcnow
from cs_backend.onboarding.checklist import Checklist, ChecklistError, load_checklist
from cs_backend.onboarding.models import OnboardingNudge, OnboardingProgress

log = logging.getLogger(__name__)

NUDGE_INTENT = "EXTERNAL_onboarding_nudge"
NUDGE_ENTITY = "onboarding_step"
# Per request to Rasa (connect, send, answer): a hung Rasa delays a run, never blocks it.
RASA_TIMEOUT = aiohttp.ClientTimeout(total=10)
# Nudges per run at most (longest idle first); the rest go out on the next runs.
NUDGES_PER_RUN = 100
# pg_try_advisory_xact_lock key of a nudge run (any constant unique within the database; "onbnudge").
ADVISORY_LOCK_KEY = 0x6F6E626E75646765
# Customers per query of the candidates' progress, nudges and conversations (bounded IN lists).
_CHUNK = 500


@dataclass(frozen=True)
class StalledCustomer:
    customer_id: int
    conversation_id: int
    sender_id: str
    channel: str
    next_step: str
    idle_hours: float
    last_activity: datetime


@dataclass(frozen=True)
class NudgeRun:
    sent: int = 0
    failed: int = 0
    # Another process held the run lock (PostgreSQL): this run did nothing.
    skipped: bool = False


async def _stalled_in_chunk(
    session: AsyncSession,
    checklist: Checklist,
    candidates: Sequence[tuple[int, datetime]],
    now: datetime,
    exclude_nudged: bool,
) -> list[StalledCustomer]:
    ids = [customer_id for customer_id, _ in candidates]
    done: dict[int, set[str]] = {customer_id: set() for customer_id in ids}
    for customer_id, key in await session.execute(
        select(OnboardingProgress.customer_id, OnboardingProgress.step_key).where(
            OnboardingProgress.customer_id.in_(ids)
        )
    ):
        done[customer_id].add(key)
    nudged: dict[int, set[str]] = {customer_id: set() for customer_id in ids}
    if exclude_nudged:
        for customer_id, key in await session.execute(
            select(OnboardingNudge.customer_id, OnboardingNudge.step_key).where(
                OnboardingNudge.customer_id.in_(ids)
            )
        ):
            nudged[customer_id].add(key)
    latest: dict[int, Conversation] = {}
    for conversation in await session.scalars(
        select(Conversation)
        .where(Conversation.customer_id.in_(ids))
        .order_by(Conversation.last_seen_at.desc(), Conversation.id.desc())
    ):
        assert conversation.customer_id is not None
        latest.setdefault(conversation.customer_id, conversation)

    stalled = []
    for customer_id, last_activity in candidates:
        next_step = checklist.next_step(done[customer_id])
        conversation = latest.get(customer_id)
        if next_step is None or conversation is None or next_step.key in nudged[customer_id]:
            continue
        stalled.append(
            StalledCustomer(
                customer_id=customer_id,
                conversation_id=conversation.id,
                sender_id=conversation.sender_id,
                channel=conversation.channel,
                next_step=next_step.key,
                idle_hours=round((now - last_activity).total_seconds() / 3600, 2),
                last_activity=last_activity,
            )
        )
    return stalled


async def find_stalled(
    db: Database,
    checklist: Checklist,
    *,
    stalled_after: timedelta,
    now: datetime,
    exclude_nudged: bool = False,
    limit: int | None = None,
) -> list[StalledCustomer]:
    """Stalled customers at `now`, longest idle first.

    With exclude_nudged (the nudge job), customers already nudged for their next step are left out; the SQL
    already skips those nudged since their last activity (their next step cannot have changed), so customers
    stalled for good are not re-read on every run.
    """
    keys = checklist.keys
    activity = (
        select(
            OnboardingProgress.customer_id.label("customer_id"),
            func.max(OnboardingProgress.completed_at).label("last_done"),
            func.sum(case((OnboardingProgress.step_key.in_(keys), 1), else_=0)).label("done"),
        )
        .group_by(OnboardingProgress.customer_id)
        .subquery()
    )
    last_activity = func.coalesce(activity.c.last_done, Customer.created_at)
    statement = (
        select(Customer.id, last_activity.label("last_activity"))
        .outerjoin(activity, activity.c.customer_id == Customer.id)
        .where(func.coalesce(activity.c.done, 0) < len(keys))
        .where(last_activity <= now - stalled_after)
        .where(exists().where(Conversation.customer_id == Customer.id))
        .order_by(last_activity, Customer.id)
    )
    if exclude_nudged:
        statement = statement.where(
            ~exists().where(
                OnboardingNudge.customer_id == Customer.id, OnboardingNudge.sent_at >= last_activity
            )
        )
    stalled: list[StalledCustomer] = []
    async with db.sessions() as session:
        candidates = [(row[0], row[1]) for row in await session.execute(statement)]
        for start in range(0, len(candidates), _CHUNK):
            chunk = candidates[start : start + _CHUNK]
            stalled += await _stalled_in_chunk(session, checklist, chunk, now, exclude_nudged)
            if limit is not None and len(stalled) >= limit:
                return stalled[:limit]
    return stalled


def trigger_intent_url(rasa_url: str, sender_id: str) -> URL:
    """{rasa_url}/conversations/{sender_id}/trigger_intent, the sender id encoded as one path segment."""
    base = URL(rasa_url)
    path = f"{base.raw_path.rstrip('/')}/conversations/{quote(sender_id, safe='')}/trigger_intent"
    return base.with_path(path, encoded=True)


async def send_nudge(http: aiohttp.ClientSession, rasa_url: str, customer: StalledCustomer) -> bool:
    """Trigger the nudge intent in the customer's conversation; True when Rasa answered 2xx."""
    url = trigger_intent_url(rasa_url, customer.sender_id).with_query(output_channel=customer.channel)
    body = {"name": NUDGE_INTENT, "entities": {NUDGE_ENTITY: customer.next_step}}
    what = f"onboarding nudge ({customer.next_step}) of customer {customer.customer_id}"
    try:
        async with http.post(url, json=body) as response:
            answer = await response.read()
            if 200 <= response.status < 300:
                return True
            detail = " ".join(answer.decode("utf-8", "replace").split())[:300]
            log.warning("Rasa answered %d to the %s: %s; retried next run", response.status, what, detail)
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        log.warning("could not send the %s to Rasa at %s: %r; retried next run", what, rasa_url, error)
    return False


async def _record_nudge(db: Database, customer: StalledCustomer, sent_at: datetime) -> None:
    async def work(session: AsyncSession) -> None:
        recorded = await session.scalar(
            select(OnboardingNudge.id).where(
                OnboardingNudge.customer_id == customer.customer_id,
                OnboardingNudge.step_key == customer.next_step,
            )
        )
        if recorded is None:
            session.add(
                OnboardingNudge(
                    customer_id=customer.customer_id,
                    step_key=customer.next_step,
                    conversation_id=customer.conversation_id,
                    sent_at=sent_at,
                )
            )
            await session.flush()

    await run_transaction(db.sessions, work)


@asynccontextmanager
async def _run_lock(db: Database) -> AsyncIterator[bool]:
    """True when this process may run the nudges now: always on SQLite (one process), on PostgreSQL when
    the transaction-level advisory lock is free (released when the run ends, even if it fails)."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    async with db.engine.connect() as connection:
        acquired = await connection.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
        )
        try:
            yield bool(acquired)
        finally:
            await connection.rollback()


async def run_nudges(
    db: Database,
    checklist: Checklist,
    http: aiohttp.ClientSession,
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int = NUDGES_PER_RUN,
) -> NudgeRun:
    """One run: nudge the stalled customers not yet nudged for their next step (at most `limit`)."""
    now = utcnow() if now is None else now
    async with _run_lock(db) as acquired:
        if not acquired:
            log.info("onboarding nudges: another process is running them; skipping this run")
            return NudgeRun(skipped=True)
        stalled = await find_stalled(
            db,
            checklist,
            stalled_after=timedelta(hours=settings.onboarding_stalled_after_hours),
            now=now,
            exclude_nudged=True,
            limit=limit,
        )
        sent = failed = 0
        for customer in stalled:
            if await send_nudge(http, settings.rasa_url, customer):
                await _record_nudge(db, customer, sent_at=now)
                sent += 1
            else:
                failed += 1
    if sent or failed:
        log.info("onboarding nudges: %d sent, %d failed (retried next run)", sent, failed)
    return NudgeRun(sent=sent, failed=failed)


def rasa_client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=RASA_TIMEOUT)


async def _nudge_loop(app: web.Application, http: aiohttp.ClientSession, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_nudges(app[DATABASE], app[ONBOARDING_CHECKLIST], http, app[SETTINGS])
        except asyncio.CancelledError:
            raise
        except Exception:
            # One failed run (database down, ...) must not end the job: the next run tries again.
            log.exception("onboarding nudge run failed; next run in %g s", interval)


async def onboarding_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: load the checklist (a broken file fails startup) and run the nudge job, if enabled,
    until cleanup cancels it. Registered after the database context, so the database outlives the job."""
    app[ONBOARDING_CHECKLIST] = load_checklist()
    interval = app[SETTINGS].onboarding_nudge_interval_seconds
    if interval <= 0:
        yield
        return
    async with rasa_client() as http:
        task = asyncio.create_task(_nudge_loop(app, http, interval), name="onboarding-nudges")
        try:
            yield
        finally:
            task.cancel()
            # wait() neither raises the task's CancelledError nor swallows a cancellation of this cleanup.
            await asyncio.wait([task])


async def run_once(settings: Settings, *, now: datetime | None = None) -> NudgeRun:
    """One run outside the server (`python -m cs_backend nudge-stalled`)."""
    checklist = load_checklist()
    db = Database.connect(settings.database_url)
    try:
        async with rasa_client() as http:
            return await run_nudges(db, checklist, http, settings, now=now)
    finally:
        await db.dispose()


def nudge_stalled_command(settings: Settings) -> int:
    """`python -m cs_backend nudge-stalled`: print how many nudges were sent; exit 1 if some failed."""
    try:
        result = asyncio.run(run_once(settings))
    except ChecklistError as error:
        print(f"cs_backend: onboarding checklist error: {error}", file=sys.stderr)
        return 2
    if result.skipped:
        print("0 onboarding nudges sent: another process is sending them right now")
        return 0
    message = f"{result.sent} onboarding nudge{'' if result.sent == 1 else 's'} sent"
    if result.failed:
        message += f", {result.failed} failed (Rasa unreachable or refused; retried on the next run)"
    print(message)
    return 1 if result.failed else 0
