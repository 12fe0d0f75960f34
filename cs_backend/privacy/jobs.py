"""The transcript retention job: conversations' events older than TRANSCRIPT_RETENTION_DAYS are purged.

Each run, with `now` from the runner's clock and `cutoff = now - retention`:
1. the event store's events older than the cutoff are found (at most PURGE_LIMIT per run, oldest first);
2. a conversation none of whose events is newer than the cutoff has been inactive since then: Rasa empties
   its tracker, its rows in Rasa's SQL tracker store (RASA_TRACKER_URL) are deleted, then its events. If Rasa
   cannot, its events stay, so the next run finds the conversation again and retries (logged once per kind of
   failure by the runner, here as a count);
3. the old events of conversations still active are deleted (Rasa's tracker of an active conversation is
   left alone: emptying it would end the conversation);
4. the learning loop's collected messages (nlu_review_messages) said before the cutoff are deleted: their
   text is transcript too.

With RabbitMQ as the event broker there is no event store to read: the job does only step 4 then (log line at
startup), and the tracker store's own expiry must do the rest (Redis: `record_exp` in endpoints.yml).
The job runs every TRANSCRIPT_RETENTION_INTERVAL_SECONDS (0 disables it), at startup too, under an advisory
lock on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from cs_backend.app_keys import DATABASE, EVENT_STORE, RASA_CLIENT, SETTINGS, TRACKER_STORE
from cs_backend.db import Database
from cs_backend.jobs import AdvisoryLock, Clock, PeriodicJob, job_context
from cs_backend.nlu_review.service import purge_said_before
from cs_backend.privacy.event_store import EventStore
from cs_backend.rasa_client import RasaClient, RasaError

log = logging.getLogger(__name__)

JOB_NAME = "transcript-retention"
# Old events handled per run at most; the rest go on the next runs.
PURGE_LIMIT = 50_000
# The job's advisory lock key (any constant unique within the database; "retentio").
ADVISORY_LOCK_KEY = 0x726574656E74696F


@dataclass(frozen=True)
class RetentionRun:
    events_deleted: int = 0
    trackers_emptied: int = 0
    # Inactive conversations whose tracker Rasa could not empty: their events wait for the next run.
    trackers_failed: int = 0
    review_messages_deleted: int = 0


async def purge_transcripts(
    events: EventStore,
    rasa: RasaClient,
    retention: timedelta,
    clock: Clock,
    limit: int = PURGE_LIMIT,
    tracker_store: EventStore | None = None,
) -> RetentionRun:
    """One purge (module docstring). `tracker_store`: the rows of Rasa's SQL tracker store, when it has
    one: an emptied conversation's rows go too (Rasa's API empties the tracker but leaves them)."""
    cutoff = clock() - retention
    old = await events.old_events(cutoff, limit)
    if not old:
        return RetentionRun()
    counts = await events.event_counts(sorted(old))
    to_delete: list[int] = []
    emptied_senders: list[str] = []
    emptied = failed = 0
    for sender_id, row_ids in sorted(old.items()):
        inactive = counts.get(sender_id, 0) <= len(row_ids)
        if inactive and sender_id:
            try:
                await rasa.empty_tracker(sender_id)
            except RasaError as error:
                failed += 1
                if failed == 1:
                    log.warning(
                        "transcript retention: Rasa could not empty a tracker (%s); retried next run", error
                    )
                continue
            emptied += 1
            emptied_senders.append(sender_id)
        to_delete.extend(row_ids)
    if tracker_store is not None and emptied_senders:
        await tracker_store.delete_events_of(emptied_senders)
    deleted = await events.delete_rows(to_delete)
    log.info(
        "transcript retention: %d events older than %s deleted, %d trackers emptied%s",
        deleted,
        cutoff.isoformat(timespec="seconds"),
        emptied,
        f", {failed} not (Rasa unavailable; retried next run)" if failed else "",
    )
    return RetentionRun(events_deleted=deleted, trackers_emptied=emptied, trackers_failed=failed)


def retention_job(
    db: Database,
    events: EventStore | None,
    rasa: RasaClient,
    retention_days: float,
    interval_seconds: float,
    tracker_store: EventStore | None = None,
) -> PeriodicJob[RetentionRun]:
    """The job of the module docstring; without an event store (RabbitMQ) only the collected messages."""
    retention = timedelta(days=retention_days)

    async def run(clock: Clock) -> RetentionRun:
        transcripts = RetentionRun()
        if events is not None:
            transcripts = await purge_transcripts(events, rasa, retention, clock, tracker_store=tracker_store)
        review_deleted = await purge_said_before(db, clock() - retention)
        if review_deleted:
            log.info("transcript retention: %d collected messages for NLU review deleted", review_deleted)
        return dataclasses.replace(transcripts, review_messages_deleted=review_deleted)

    return PeriodicJob(
        JOB_NAME, interval_seconds, run, lock=AdvisoryLock(db, ADVISORY_LOCK_KEY), run_at_start=True
    )


@asynccontextmanager
async def _retention_job_of(app: web.Application) -> AsyncIterator[PeriodicJob[RetentionRun] | None]:
    settings = app[SETTINGS]
    events = app[EVENT_STORE]
    if settings.transcript_retention_days <= 0 or settings.transcript_retention_interval_seconds <= 0:
        yield None
        return
    if events is None:
        log.info(
            "transcript retention: the events go through RabbitMQ, so there is no event store to purge; "
            "let the tracker store expire trackers (the messages collected for NLU review are purged)"
        )
    yield retention_job(
        app[DATABASE],
        events,
        app[RASA_CLIENT],
        settings.transcript_retention_days,
        settings.transcript_retention_interval_seconds,
        tracker_store=app[TRACKER_STORE],
    )


# Registered after the database, Rasa client and event store contexts, which outlive it.
retention_job_context = job_context(_retention_job_of)
