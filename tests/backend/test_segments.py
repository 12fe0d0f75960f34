"""Segments: K-means on real customer rows (SQLite and PostgreSQL), named from the centroids, stored per run
and served by GET /api/segments to agents and admins; and churn-export's training CSV of the same rows."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from cs_backend.__main__ import recompute_segments
from cs_backend.app_keys import DATABASE
from cs_backend.churn.export import EXPORTED_FEATURES, export_training_set
from cs_backend.config import Settings
from cs_backend.health_scores.features import FEATURE_NAMES
from cs_backend.segments import service
from cs_backend.segments.models import SegmentRun
from tests.support import REPO_ROOT

from .churn_rows import PER_KIND, population
from .health_rows import NOW
from .helpers import assert_error, bearer_of_new_account


async def test_segments_of_real_rows_are_named_stored_and_served(client: TestClient[Any, Any]) -> None:
    db = client.app[DATABASE]
    agent = await bearer_of_new_account(client, "agent")
    empty = await client.get("/api/segments", headers=agent)
    assert empty.status == 200, await empty.text()
    assert await empty.json() == {"computed_at": None, "customers": 0, "segments": []}

    made = await population(db)
    run = await service.recompute(db, segments=4, now=NOW)
    assert run.customers == 4 * PER_KIND
    by_name = {segment["name"]: segment for segment in run.segments}
    # Each kind of customer is one cluster, and the rules name it for what it is.
    assert set(by_name) == {"at-risk", "high-value", "silent", "new"}
    assert all(segment["size"] == PER_KIND for segment in run.segments)
    assert by_name["high-value"]["centroid"]["monthly_revenue"] > 490
    assert by_name["at-risk"]["centroid"]["tickets_open"] == 3
    assert by_name["silent"]["centroid"]["days_since_last_activity"] > 100
    assert by_name["new"]["centroid"]["tenure_days"] < 10
    assert set(by_name["new"]["centroid"]) == set(FEATURE_NAMES)
    assert by_name["at-risk"]["description"].startswith("More churn signals, open tickets")
    assert "ces_mean_90d 2.0 (below average)" in by_name["at-risk"]["description"]
    assert len(made.all) == run.customers

    response = await client.get("/api/segments", headers=agent)
    assert response.status == 200, await response.text()
    served = await response.json()
    assert served["customers"] == 4 * PER_KIND and served["computed_at"].startswith("2026-11-30T12:00:00")
    assert served["segments"] == run.segments

    # Stored per run: a second run is another row, and the latest is served.
    later = await service.recompute(db, segments=2, now=NOW.replace(hour=13))
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SegmentRun)) == 2
    served = await (
        await client.get("/api/segments", headers=await bearer_of_new_account(client, "admin"))
    ).json()
    assert len(served["segments"]) == 2 and served["segments"] == later.segments

    # People only: the service (the action server) has no use for it.
    await assert_error(await client.get("/api/segments"), 403)


async def test_churn_export_writes_features_and_churned(client: TestClient[Any, Any], tmp_path: Path) -> None:
    made = await population(client.app[DATABASE])
    out = tmp_path / "export" / "customers.csv"
    assert await export_training_set(client.app[DATABASE], out, now=NOW) == (
        4 * PER_KIND,
        len(made.cancelling),
    )
    with out.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["customer_id", *EXPORTED_FEATURES, "churned"]
    # churn_signals_90d counts the very signals that say "churned": exporting it would leak the target.
    assert "churn_signals_90d" not in rows[0]
    churned = {int(row["customer_id"]) for row in rows if row["churned"] == "1"}
    assert churned == set(made.cancelling)
    by_id = {int(row["customer_id"]): row for row in rows}
    assert float(by_id[made.struggling[0]]["tickets_open"]) == 3
    assert float(by_id[made.paying[0]]["monthly_revenue"]) == 490.0


def command(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "cs_backend", *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": python_path},
        capture_output=True,
        text=True,
        timeout=120,
    )


# The commands' SQL is the services' above, tested on both databases; once is enough for the command line.
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_commands_export_and_recompute(
    client: TestClient[Any, Any], migrated_database_url: str, tmp_path: Path
) -> None:
    made = await population(client.app[DATABASE])
    out = tmp_path / "customers.csv"
    exported = await asyncio.to_thread(command, migrated_database_url, "churn-export", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert f"{4 * PER_KIND} customers ({len(made.cancelling)} churned) written to {out}" in exported.stdout
    assert len(out.read_text().splitlines()) == 1 + 4 * PER_KIND

    recomputed = await asyncio.to_thread(
        command, migrated_database_url, "segments-recompute", "--segments", "4"
    )
    assert recomputed.returncode == 0, recomputed.stderr
    assert f"{4 * PER_KIND} customers in 4 segments" in recomputed.stdout
    served = await (
        await client.get("/api/segments", headers=await bearer_of_new_account(client, "agent"))
    ).json()
    assert sorted(s["name"] for s in served["segments"]) == ["at-risk", "high-value", "new", "silent"]


def test_segments_recompute_refuses_a_bad_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert recompute_segments(Settings(), 1) == 2  # refused before any database is opened
    assert "--segments must be between 2 and 20" in capsys.readouterr().err
