"""The onboarding nudge job (cs_backend/onboarding/jobs.py), the stalled customers it picks
(onboarding/service.py, also GET /api/onboarding/stalled) and `python -m cs_backend nudge-stalled`.

Rasa is played by a small local aiohttp server (fake_rasa.py) that records the requests it gets (path, query,
JSON body) and answers with the status a test chooses. Time is injected (`now=`, a clock), and rows are
back-dated where a test needs an old first contact or an old completion.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientTimeout
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text, update

from cs_backend.__main__ import nudge_stalled
from cs_backend.app_keys import DATABASE, RASA_CLIENT, SETTINGS
from cs_backend.config import Settings
from cs_backend.conversations.models import Conversation
from cs_backend.customers.models import Customer
from cs_backend.db import Database, utcnow
from cs_backend.main import create_app
from cs_backend.onboarding import checklist as checklist_module
from cs_backend.onboarding import jobs
from cs_backend.onboarding.checklist import load_checklist
from cs_backend.onboarding.jobs import NUDGES_PER_RUN, NudgeRun
from cs_backend.onboarding.models import CompletedStep, OnboardingNudge
from cs_backend.onboarding.service import StalledCustomer, find_stalled
from cs_backend.rasa_client import RasaClient
from tests.support import REPO_ROOT

from .fake_rasa import FakeRasa
from .helpers import assert_error, complete

CHECKLIST = load_checklist()
DAY = timedelta(hours=24)


@pytest.fixture
def rasa_settings(settings: Settings, rasa: FakeRasa) -> Settings:
    return dataclasses.replace(settings, rasa_url=rasa.url, rasa_auth_token=rasa.token)


@pytest.fixture
async def client(aiohttp_client: Any, rasa_settings: Settings) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(rasa_settings))


def backend_log(caplog: pytest.LogCaptureFixture) -> str:
    """What cs_backend logged (not the fake Rasa's access log: that is Rasa's side)."""
    return "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("cs_backend"))


def db_of(client: TestClient[Any, Any]) -> Database:
    return client.app[DATABASE]


async def backdate(
    client: TestClient[Any, Any], customer_id: int, hours: float, *, steps: float | None = None
) -> None:
    """First contact `hours` ago (customer and conversations); completed steps `steps` hours ago."""
    when = utcnow() - timedelta(hours=hours)
    async with db_of(client).sessions() as session:
        await session.execute(update(Customer).where(Customer.id == customer_id).values(created_at=when))
        await session.execute(
            update(Conversation)
            .where(Conversation.customer_id == customer_id)
            .values(started_at=when, last_seen_at=when)
        )
        if steps is not None:
            await session.execute(
                update(CompletedStep)
                .where(CompletedStep.customer_id == customer_id)
                .values(completed_at=utcnow() - timedelta(hours=steps))
            )
        await session.commit()


async def start(client: TestClient[Any, Any], sender_id: str, channel: str = "socketio", *steps: str) -> int:
    """A conversation that started onboarding (and completed `steps`); returns its customer id."""
    response = await client.post("/api/onboarding/start", json={"sender_id": sender_id, "channel": channel})
    assert response.status == 200, await response.text()
    customer_id: int = (await response.json())["customer_id"]
    for step in steps:
        await complete(client, step, customer_id=customer_id)
    return customer_id


async def stalled(client: TestClient[Any, Any], now: datetime, **options: Any) -> list[StalledCustomer]:
    return await find_stalled(db_of(client), CHECKLIST, stalled_after=DAY, now=now, **options)


async def run(
    client: TestClient[Any, Any],
    now: datetime | None = None,
    *,
    rasa: RasaClient | None = None,
    limit: int = NUDGES_PER_RUN,
) -> NudgeRun:
    """One run of the job against the app's database (and, by default, the app's Rasa client)."""
    return await jobs.run_nudges(
        db_of(client),
        CHECKLIST,
        client.app[RASA_CLIENT] if rasa is None else rasa,
        client.app[SETTINGS],
        clock=utcnow if now is None else lambda: now,
        limit=limit,
    )


async def recorded(client: TestClient[Any, Any]) -> list[tuple[int, str, int]]:
    async with db_of(client).sessions() as session:
        rows = await session.execute(
            select(
                OnboardingNudge.customer_id, OnboardingNudge.step_key, OnboardingNudge.conversation_id
            ).order_by(OnboardingNudge.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


# --- stalled detection --------------------------------------------------------------------------------------


async def test_stalled_detection_with_an_injected_clock(client: TestClient[Any, Any]) -> None:
    now = utcnow()
    fresh = await start(client, "fresh")
    started = await start(client, "started", "rest", "sign_up", "verify_email")
    done = await start(client, "done", "socketio", *CHECKLIST.keys)
    # A customer without any conversation cannot be nudged.
    await client.post("/api/customers", json={"email": "nobody@example.com"})

    assert await stalled(client, now) == []
    assert await stalled(client, now + DAY - timedelta(minutes=1)) == []

    later = now + DAY + timedelta(hours=1)
    found = await stalled(client, later)
    assert [(s.customer_id, s.sender_id, s.channel, s.next_step) for s in found] == [
        (fresh, "fresh", "socketio", "sign_up"),
        (started, "started", "rest", "complete_profile"),
    ]
    assert all(25 <= s.idle_hours <= 25.1 for s in found)
    assert done not in {s.customer_id for s in found}

    # A completed step is activity: idle counts from it, not from the first contact.
    await backdate(client, started, hours=72, steps=2)
    by_customer = {s.customer_id: s for s in await stalled(client, now + timedelta(hours=20))}
    assert started not in by_customer
    by_customer = {s.customer_id: s for s in await stalled(client, now + timedelta(hours=30))}
    assert 31.9 <= by_customer[started].idle_hours <= 32.1


async def test_stalled_endpoint(client: TestClient[Any, Any]) -> None:
    customer = await start(client, "s-old", "socketio", "sign_up")
    await start(client, "s-new")
    await backdate(client, customer, hours=50, steps=30)

    response = await client.get("/api/onboarding/stalled")
    assert response.status == 200
    items = (await response.json())["items"]
    assert len(items) == 1
    item = items[0]
    assert set(item) == {"customer_id", "sender_id", "channel", "next_step", "idle_hours"}
    assert (item["customer_id"], item["sender_id"], item["channel"], item["next_step"]) == (
        customer,
        "s-old",
        "socketio",
        "verify_email",
    )
    assert 29.9 <= item["idle_hours"] <= 30.1
    await assert_error(await client.get("/api/onboarding/stalled?limit=5"), 400, {"limit"})


async def test_the_most_recently_active_conversation_is_nudged(
    client: TestClient[Any, Any], rasa: FakeRasa
) -> None:
    for sender_id, channel in (("phone", "twilio"), ("web", "socketio")):
        await client.post(
            "/api/conversations",
            json={"sender_id": sender_id, "channel": channel, "email": "ada@example.com"},
        )
    customer = (await (await client.post("/api/customers", json={"email": "ada@example.com"})).json())["id"]
    await backdate(client, customer, hours=48)
    async with db_of(client).sessions() as session:
        await session.execute(
            update(Conversation).where(Conversation.sender_id == "phone").values(last_seen_at=utcnow())
        )
        await session.commit()

    found = await stalled(client, utcnow())
    assert [(s.customer_id, s.sender_id, s.channel) for s in found] == [(customer, "phone", "twilio")]
    assert (await run(client)).sent == 1
    assert rasa.requests[0]["sender_id"] == "phone"
    assert rasa.requests[0]["query"] == {"output_channel": "twilio", "token": rasa.token}


# --- sending nudges -----------------------------------------------------------------------------------------


async def test_nudge_request_to_rasa_and_record(client: TestClient[Any, Any], rasa: FakeRasa) -> None:
    customer = await start(client, "user 1/é?", "socketio", "sign_up")
    await backdate(client, customer, hours=48, steps=30)

    result = await run(client)
    assert result == NudgeRun(sent=1, failed=0)
    assert rasa.requests == [
        {
            "sender_id": "user 1/é?",
            "raw_path": "/conversations/user%201%2F%C3%A9%3F/trigger_intent",
            "query": {"output_channel": "socketio", "token": rasa.token},
            "json": {"name": "EXTERNAL_onboarding_nudge", "entities": {"onboarding_step": "verify_email"}},
            "content_type": "application/json",
        }
    ]
    conversation = await client.post(
        "/api/conversations", json={"sender_id": "user 1/é?", "channel": "socketio"}
    )
    assert await recorded(client) == [(customer, "verify_email", (await conversation.json())["id"])]


async def test_at_most_one_nudge_per_customer_and_step(client: TestClient[Any, Any], rasa: FakeRasa) -> None:
    customer = await start(client, "once", "socketio")
    other = await start(client, "other", "rest")
    await backdate(client, customer, hours=48)
    await backdate(client, other, hours=48)

    assert (await run(client)).sent == 2
    for offset in (timedelta(0), timedelta(days=3), timedelta(days=30)):
        assert (await run(client, utcnow() + offset)).sent == 0
    assert [r["json"]["entities"]["onboarding_step"] for r in rasa.requests] == ["sign_up", "sign_up"]
    # Still stalled (the list is not about nudges), just not nudged again.
    assert {s.customer_id for s in await stalled(client, utcnow())} == {customer, other}

    # Progress moves the customer to the next step; stalled again a day later, they get that step's nudge.
    await complete(client, "sign_up", customer_id=customer)
    assert (await run(client)).sent == 0  # active again
    assert (await run(client, utcnow() + DAY + timedelta(minutes=1))).sent == 1
    assert rasa.requests[-1]["json"]["entities"] == {"onboarding_step": "verify_email"}
    assert [(c, step) for c, step, _ in await recorded(client)] == [
        (customer, "sign_up"),
        (other, "sign_up"),
        (customer, "verify_email"),
    ]
    assert len(rasa.requests) == 3


async def test_a_rasa_failure_is_not_recorded_and_retried_next_run(
    client: TestClient[Any, Any], rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    customer = await start(client, "flaky", "socketio")
    await backdate(client, customer, hours=48)

    rasa.status = 500
    assert await run(client) == NudgeRun(sent=0, failed=1)
    assert len(rasa.requests) == 1
    assert await recorded(client) == []
    assert "Rasa answered 500" in backend_log(caplog)
    assert rasa.token not in backend_log(caplog)

    rasa.status = 200
    assert await run(client) == NudgeRun(sent=1, failed=0)
    assert len(rasa.requests) == 2
    assert rasa.requests[0]["json"] == rasa.requests[1]["json"]
    assert [(c, step) for c, step, _ in await recorded(client)] == [(customer, "sign_up")]
    assert (await run(client)).sent == 0


@pytest.mark.parametrize("backend", ["sqlite"])  # about the HTTP client only
async def test_a_refused_token_is_a_failure_logged_without_the_token(
    client: TestClient[Any, Any], rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    customer = await start(client, "locked-out", "socketio")
    await backdate(client, customer, hours=48)
    wrong_token = "a-wrong-token-of-some-length"

    async with RasaClient(rasa.url, auth_token=wrong_token) as locked_out:
        assert await run(client, rasa=locked_out) == NudgeRun(sent=0, failed=1)
    assert (rasa.refused, rasa.requests, await recorded(client)) == (1, [], [])
    assert "Rasa answered 401" in backend_log(caplog)
    assert wrong_token not in backend_log(caplog) and rasa.token not in backend_log(caplog)


@pytest.mark.parametrize("backend", ["sqlite"])  # about the HTTP client only
async def test_unreachable_or_slow_rasa_is_a_failure(client: TestClient[Any, Any], rasa: FakeRasa) -> None:
    customer = await start(client, "slow", "socketio")
    await backdate(client, customer, hours=48)

    async with RasaClient(rasa.url, auth_token=rasa.token, timeout=ClientTimeout(total=0.2)) as impatient:
        rasa.delay = 1.0
        assert await run(client, rasa=impatient) == NudgeRun(sent=0, failed=1)

        assert rasa.server is not None
        await rasa.server.close()  # nothing listens there any more
        assert await run(client, rasa=impatient) == NudgeRun(sent=0, failed=1)
    assert await recorded(client) == []


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_runs_are_exclusive_on_postgres(client: TestClient[Any, Any], rasa: FakeRasa) -> None:
    """Several backend processes: a run that finds the advisory lock taken does nothing (SQLite deployments
    run one process)."""
    customer = await start(client, "locked", "socketio")
    await backdate(client, customer, hours=48)
    async with db_of(client).engine.connect() as connection:
        held = await connection.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": jobs.ADVISORY_LOCK_KEY}
        )
        assert held
        assert await run(client) == NudgeRun(skipped=True)
        await connection.rollback()
    assert rasa.requests == []
    assert (await run(client)).sent == 1


async def test_run_caps_the_nudges_per_run(client: TestClient[Any, Any], rasa: FakeRasa) -> None:
    for index in range(3):
        await backdate(client, await start(client, f"cap-{index}"), hours=48 - index)
    assert (await run(client, limit=2)).sent == 2
    assert [r["sender_id"] for r in rasa.requests] == ["cap-0", "cap-1"]  # longest idle first
    assert (await run(client)).sent == 1


# --- the background job and the command ---------------------------------------------------------------------


async def _wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _job_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == jobs.JOB_NAME]


async def test_no_job_when_the_interval_is_zero(client: TestClient[Any, Any]) -> None:
    assert client.app[SETTINGS].onboarding_nudge_interval_seconds == 0
    assert _job_tasks() == []


async def test_background_job_nudges_survives_a_failed_run_and_stops_on_cleanup(
    aiohttp_client: Any, rasa_settings: Settings, rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_send = jobs.send_nudges

    async def flaky_send(*args: Any, **kwargs: Any) -> NudgeRun:
        calls.append("run")
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return await real_send(*args, **kwargs)

    monkeypatch.setattr(jobs, "send_nudges", flaky_send)
    job_settings = dataclasses.replace(rasa_settings, onboarding_nudge_interval_seconds=0.05)
    client = await aiohttp_client(create_app(job_settings))
    customer = await start(client, "looped", "socketio")
    await backdate(client, customer, hours=48)

    await _wait_for(lambda: len(rasa.requests) == 1)
    assert len(calls) >= 2  # the first run failed, the loop went on
    assert len(_job_tasks()) == 1
    await asyncio.sleep(0.2)
    assert len(rasa.requests) == 1  # later runs find nothing new to send

    await client.close()
    assert _job_tasks() == []


@pytest.mark.parametrize("backend", ["sqlite"])  # about the task only
async def test_cleanup_cancels_a_run_in_progress(
    aiohttp_client: Any, rasa_settings: Settings, rasa: FakeRasa
) -> None:
    job_settings = dataclasses.replace(rasa_settings, onboarding_nudge_interval_seconds=0.01)
    client = await aiohttp_client(create_app(job_settings))
    customer = await start(client, "hanging", "socketio")
    await backdate(client, customer, hours=48)
    rasa.delay = 30  # Rasa hangs: cleanup must not wait for it
    await _wait_for(lambda: len(rasa.requests) == 1)
    started = asyncio.get_running_loop().time()
    await client.close()
    assert asyncio.get_running_loop().time() - started < 2
    assert _job_tasks() == []


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_cli_nudge_stalled_runs_once_and_prints_the_count(
    client: TestClient[Any, Any],
    rasa: FakeRasa,
    migrated_database_url: str,
) -> None:
    customer = await start(client, "cli", "socketio", "sign_up")
    await backdate(client, customer, hours=48, steps=48)
    env = {
        **os.environ,
        "DATABASE_URL": migrated_database_url,
        "RASA_URL": rasa.url,
        "RASA_AUTH_TOKEN": rasa.token,
        "PYTHONPATH": str(REPO_ROOT),
        "LOG_LEVEL": "WARNING",
    }
    # Not subprocess.run: the fake Rasa answers from this test's event loop, which must keep running.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cs_backend",
        "nudge-stalled",
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert (process.returncode, stdout.decode().strip()) == (0, "1 onboarding nudge sent"), stderr.decode()
    assert [r["json"]["entities"] for r in rasa.requests] == [{"onboarding_step": "verify_email"}]
    assert [(c, step) for c, step, _ in await recorded(client)] == [(customer, "verify_email")]
    assert (await run(client)).sent == 0  # recorded: the command's run counts like any other


async def test_cli_reports_failures_and_a_broken_checklist(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process (a subprocess costs a second): the command's output and exit codes."""
    results = iter([NudgeRun(sent=2, failed=1), NudgeRun(skipped=True)])

    async def fake_nudge_stalled_once(_: Settings) -> NudgeRun:
        return next(results)

    monkeypatch.setattr(jobs, "nudge_stalled_once", fake_nudge_stalled_once)
    cli_settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}")
    assert await asyncio.to_thread(nudge_stalled, cli_settings) == 1
    assert capsys.readouterr().out.startswith("2 onboarding nudges sent, 1 failed")
    assert await asyncio.to_thread(nudge_stalled, cli_settings) == 0
    assert "another process" in capsys.readouterr().out

    monkeypatch.undo()
    broken = tmp_path / "checklist.toml"
    broken.write_text("[[steps]]\nkey = 1\n", encoding="utf-8")
    monkeypatch.setattr(checklist_module, "CHECKLIST_PATH", broken)
    assert await asyncio.to_thread(nudge_stalled, cli_settings) == 2
    assert "onboarding checklist error" in capsys.readouterr().err
