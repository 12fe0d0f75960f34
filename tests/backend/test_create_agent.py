"""`python -m cs_backend create-agent`: an agent account with its routing profile, offline, who signs in and
goes online (what a person does before holding a handoff by hand: docs/HANDOFF.md). SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cs_backend.config import Settings
from cs_backend.main import create_app
from tests.support import REPO_ROOT

PASSWORD = "correct horse battery staple"


def create_agent(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cs_backend", "create-agent", *arguments],
        input=PASSWORD + "\n",
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
async def people(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings), sign=False)


async def test_a_created_agent_signs_in_and_goes_online_with_their_profile(
    migrated_database_url: str, people: TestClient[Any, Any]
) -> None:
    made = create_agent(
        migrated_database_url,
        *("--email", "Ana@Example.com", "--name", "Ana Agent", "--languages", "en, ZH"),
        *("--skills", "Billing,technical", "--capacity", "2"),
    )
    assert made.returncode == 0, made.stderr
    assert "agent ana@example.com created" in made.stdout and "offline" in made.stdout

    response = await people.post("/api/auth/login", json={"email": "ana@example.com", "password": PASSWORD})
    assert response.status == 200, await response.text()
    signed_in = await response.json()
    assert signed_in["role"] == "agent"
    bearer = {"Authorization": f"Bearer {signed_in['token']}"}
    response = await people.put("/api/routing/agents/me/status", json={"status": "online"}, headers=bearer)
    assert response.status == 200, await response.text()
    profile = await response.json()
    assert profile["display_name"] == "Ana Agent"
    assert (profile["languages"], profile["skills"], profile["capacity"]) == (
        ["en", "zh"],
        ["billing", "technical"],
        2,
    )
    assert (profile["status"], profile["load"], profile["team_id"]) == ("online", 0, None)


async def test_bad_routing_options_create_nothing(
    migrated_database_url: str, people: TestClient[Any, Any]
) -> None:
    for arguments, complaint in (
        (("--languages", "english"), "--languages"),
        (("--capacity", "0"), "--capacity"),
        (("--team-id", "999"), "team 999 not found"),
    ):
        made = create_agent(migrated_database_url, "--email", "bad@example.com", *arguments)
        assert made.returncode == 2 and complaint in made.stderr, made.stderr
    response = await people.post("/api/auth/login", json={"email": "bad@example.com", "password": PASSWORD})
    assert response.status == 401
    made = create_agent(migrated_database_url, "--email", "boss@example.com", "--admin")
    assert made.returncode == 0 and "admin boss@example.com created" in made.stdout, made.stderr
