"""`python -m cs_backend health-rescore` in a process of its own, on real rows (SQLite and PostgreSQL): every
customer scored with a progress bar on stderr, history and a red alert stored; bad weights refused. And the
progress bar itself."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from cs_backend.alerts.models import FollowUpTask
from cs_backend.db import Database
from cs_backend.health_scores.models import HealthScore, HealthScoreHistory
from cs_backend.health_scores.progress import ProgressBar
from tests.support import REPO_ROOT

from .health_rows import CustomerRows, healthy_and_struggling


def health_rescore(database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT), "REDIS_URL": ""}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "cs_backend", "health-rescore"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_every_customer_is_rescored_with_a_progress_bar(migrated_database_url: str) -> None:
    db = Database.connect(migrated_database_url)
    try:
        happy, sad = await healthy_and_struggling(db)
        async with db.sessions() as session:
            quiet = (await CustomerRows.create(session, "quiet@example.com", joined_days_ago=1)).id
            await session.commit()
        done = await asyncio.to_thread(health_rescore, migrated_database_url)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "rescored 3 customers (green 1, yellow 1, red 1); 1 red alerts raised"
        assert "health-rescore [" in done.stderr and "3/3 100%" in done.stderr
        async with db.sessions() as session:
            scores = {row.customer_id: row.band for row in await session.scalars(select(HealthScore))}
            reasons = list(await session.scalars(select(HealthScoreHistory.reason)))
            alerts = list(await session.scalars(select(FollowUpTask.customer_id)))
        # Now, not the rows' NOW: the healthy customer's last login is older, still green.
        assert scores == {happy: "green", quiet: "yellow", sad: "red"}
        assert reasons == ["rescore"] * 3 and alerts == [sad]

        # Again: still red, so no second alert; a second history entry each.
        again = await asyncio.to_thread(health_rescore, migrated_database_url)
        assert again.returncode == 0 and again.stdout.endswith("; 0 red alerts raised\n")
    finally:
        await db.dispose()


def test_bad_weights_stop_the_command(tmp_path: Path) -> None:
    weights = tmp_path / "weights.toml"
    weights.write_text("base = 50\n")
    done = health_rescore(f"sqlite:///{tmp_path / 'never.db'}", HEALTH_WEIGHTS_PATH=str(weights))
    assert done.returncode == 2
    assert "health score weights error" in done.stderr and "missing required field 'bands'" in done.stderr
    assert not (tmp_path / "never.db").exists()


def test_the_progress_bar_redraws_one_line() -> None:
    stream = io.StringIO()
    ticks = iter([0.0, 0.05, 0.5, 1.0, 2.0])
    bar = ProgressBar(200, "work", stream=stream, width=8, clock=lambda: next(ticks))
    bar.advance(50)  # t=0.05: drawn (first)
    bar.advance(50)  # t=0.5: drawn
    bar.advance(100)  # t=1.0: drawn
    bar.finish()  # t=2.0
    frames = stream.getvalue().split("\r")[1:]
    assert frames[0] == "work [##......] 50/200  25% 1,000/s"
    assert frames[-1] == "work [########] 200/200 100% 100/s\n"
    assert len(frames) == 4
