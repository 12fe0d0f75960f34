"""Raising alerts (a task, its webhook delivery, a live event) and the tasks' list and completion."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.alerts.models import AlertDelivery, FollowUpTask, Kind
from cs_backend.alerts.schemas import TaskOut, TaskQuery
from cs_backend.api.errors import NotFound
from cs_backend.app_keys import DATABASE, LIVE_EVENTS, SETTINGS
from cs_backend.config import Settings
from cs_backend.db import Database, run_transaction, utcnow
from cs_backend.live_events import LiveEvents, publish_safely
from cs_backend.paging import Page, fetch_page, where_given

log = logging.getLogger(__name__)

TITLE_MAX_LENGTH = 200
SOURCE_REF_MAX_LENGTH = 200


@dataclass(frozen=True)
class AlertServices:
    """What raising an alert needs, for callers outside a request (jobs, the signal consumer, scripts)."""

    database: Database
    live_events: LiveEvents
    settings: Settings

    @classmethod
    def of(cls, target: web.Application | AlertServices) -> AlertServices:
        if isinstance(target, AlertServices):
            return target
        return cls(target[DATABASE], target[LIVE_EVENTS], target[SETTINGS])


def task_payload(task: FollowUpTask) -> dict[str, Any]:
    return TaskOut.model_validate(task, from_attributes=True).model_dump(mode="json")


def webhook_body(task: FollowUpTask) -> str:
    """What the webhook receives: `text` (what a Slack incoming webhook shows) and the task itself."""
    return json.dumps(
        {"text": f"{task.title}\n{task.detail}", "alert": task_payload(task)}, ensure_ascii=False
    )


async def raise_alert(
    target: web.Application | AlertServices,
    *,
    kind: Kind,
    customer_id: int | None,
    title: str,
    detail: str,
    source_ref: str,
) -> FollowUpTask:
    """Store a follow-up task, queue its signed webhook (when ALERT_WEBHOOK_URL is set) in the same
    transaction, then publish `alert.raised`. The same (kind, source_ref) again returns the task already
    raised, and sends and publishes nothing."""
    services = AlertServices.of(target)
    source_ref = source_ref[:SOURCE_REF_MAX_LENGTH]

    async def work(session: AsyncSession) -> tuple[FollowUpTask, bool]:
        existing = await session.scalar(
            select(FollowUpTask).where(FollowUpTask.kind == kind, FollowUpTask.source_ref == source_ref)
        )
        if existing is not None:
            return existing, False
        task = FollowUpTask(
            kind=kind,
            customer_id=customer_id,
            title=title[:TITLE_MAX_LENGTH],
            detail=detail,
            source_ref=source_ref,
            status="open",
            created_at=utcnow(),
        )
        session.add(task)
        await session.flush()
        if services.settings.alert_webhook_url is not None:
            session.add(
                AlertDelivery(task_id=task.id, body=webhook_body(task), next_attempt_at=task.created_at)
            )
        return task, True

    task, created = await run_transaction(services.database.sessions, work)
    if created:
        log.info("alert raised: %s task %d (customer %s)", kind, task.id, customer_id)
        await publish_safely(services.live_events, "alert.raised", task_payload(task))
    return task


async def list_tasks(db: Database, query: TaskQuery) -> Page[FollowUpTask]:
    statement = where_given(
        select(FollowUpTask),
        (FollowUpTask.status, query.status),
        (FollowUpTask.kind, query.kind),
        (FollowUpTask.customer_id, query.customer_id),
    )
    newest_first = (FollowUpTask.created_at.desc(), FollowUpTask.id.desc())
    return await fetch_page(db, statement, *newest_first, limit=query.limit, offset=query.offset)


async def mark_done(db: Database, task_id: int, account_id: int) -> tuple[FollowUpTask, bool]:
    """(the task, True) once marked done; a task already done is returned unchanged (False)."""

    async def work(session: AsyncSession) -> tuple[FollowUpTask, bool]:
        task = await session.get(FollowUpTask, task_id, with_for_update=True)
        if task is None:
            raise NotFound(f"task {task_id} not found")
        if task.status == "done":
            return task, False
        task.status = "done"
        task.done_at = utcnow()
        task.done_by = account_id
        return task, True

    return await run_transaction(db.sessions, work)
