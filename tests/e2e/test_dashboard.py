"""The dashboard (GET /dashboard) in headless Chromium, against cs_backend alone (no Rasa needed): an agent
signs in as on the console, the key figures and the four charts are drawn (their canvases hold pixels), and a
CSAT rating posted through the API moves the CSAT tile while the page is open (the event stream).

Set DASHBOARD_SCREENSHOT to a file path to also save a screenshot of the page (how docs/images/dashboard.png
is made).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy import select
from test_browser_widget import CHROMIUM_FLAGS, chromium_path

import cs_backend.models  # noqa: F401  (every table on the metadata, for the foreign keys)
from cs_backend import migrate
from cs_backend.accounts import service as accounts
from cs_backend.activities.models import CustomerActivity
from cs_backend.auth.signing import signature_headers
from cs_backend.conversations.models import Conversation
from cs_backend.customers.models import Customer
from cs_backend.db import Database, normalize_database_url
from cs_backend.feedback.models import Feedback
from cs_backend.health_scores.scoring import Scorer
from cs_backend.health_scores.service import rescore
from cs_backend.health_scores.weights import load_weights
from cs_backend.onboarding.models import CompletedStep
from cs_backend.outcomes.models import ConversationOutcome
from cs_backend.routing.models import HandoffRequest
from cs_backend.segments import service as segments
from cs_backend.tickets.models import Ticket
from launcher.stack import backend_command, free_port, generate_token
from tests.backend.helpers import FAST_HASHER
from tests.support import REPO_ROOT

AGENT_EMAIL = "dana.dashboard@example.com"
AGENT_NAME = "Dana Dashboard"
PASSWORD = "a long enough dashboard passphrase"
STARTUP_SECONDS = 60
WAIT_MS = 15_000
STEPS = (
    "sign_up",
    "verify_email",
    "complete_profile",
    "connect_integration",
    "invite_teammate",
    "create_project",
)
# Customer 0's conversation: the rating the test gives there is about them.
CUSTOMER_CHAT = "customer-0-chat"
CHARTS = ("chart-trend", "chart-times", "chart-csat", "chart-ces")


@dataclass(frozen=True)
class Backend:
    url: str
    secret: str


async def seed_history(database_url: str) -> None:
    """The agent, and two weeks of ratings, decided sessions and handoffs, so the charts have something to
    show (in this process: quicker than the `create-agent` command, which docs/HANDOFF.md covers)."""
    database = Database.connect(normalize_database_url(database_url))
    today = datetime.now(timezone.utc).replace(hour=9, minute=0, second=0, microsecond=0)
    try:
        await accounts.create_account(database, AGENT_EMAIL, AGENT_NAME, "agent", PASSWORD, FAST_HASHER)
        async with database.sessions() as session, session.begin():
            # Ten customers active over the last 60 days; two of them stop after the first 30. Each pays
            # 49.00 on each active week.
            for number in range(10):
                customer = Customer(
                    email=f"customer{number}@example.com",
                    name=f"Customer {number}",
                    created_at=today - timedelta(days=90),
                )
                session.add(customer)
                await session.flush()
                # Onboarding: customer n has done the first n % 7 steps of the checklist; customers 2 and 3
                # have open tickets, the oldest three weeks old.
                for step in STEPS[: number % 7]:
                    session.add(
                        CompletedStep(
                            customer_id=customer.id, step_key=step, source="product", completed_at=today
                        )
                    )
                for ticket in range(4 - number if number in (2, 3) else 0):
                    session.add(
                        Ticket(
                            subject="Sync fails",
                            description="The sync with our CRM fails every night.",
                            email=customer.email,
                            customer_id=customer.id,
                            channel="socketio",
                            created_at=today - timedelta(days=21 - ticket),
                            updated_at=today - timedelta(days=21 - ticket),
                        )
                    )
                if number == 0:
                    session.add(
                        Conversation(
                            sender_id=CUSTOMER_CHAT,
                            channel="socketio",
                            customer_id=customer.id,
                            started_at=today,
                            last_seen_at=today,
                        )
                    )
                last_day = 30 if number < 2 else 0
                for day in range(59, last_day - 1, -7):
                    moment = today - timedelta(days=day + number % 3)
                    session.add(CustomerActivity(customer_id=customer.id, kind="login", occurred_at=moment))
                    session.add(
                        CustomerActivity(
                            customer_id=customer.id,
                            kind="payment",
                            occurred_at=moment,
                            amount_cents=4900,
                            currency="USD",
                        )
                    )
            conversation = Conversation(
                sender_id="seed", channel="socketio", started_at=today, last_seen_at=today
            )
            session.add(conversation)
            await session.flush()
            for day in range(1, 15):
                moment = today - timedelta(days=day)
                for index, score in enumerate((5, 4, 5 if day % 3 else 2, 3 + day % 3)):
                    session.add(
                        Feedback(
                            kind="csat",
                            score=score,
                            channel="socketio",
                            intent=("billing", "delivery")[index % 2],
                            resolver="bot",
                            created_at=moment,
                        )
                    )
                session.add(
                    Feedback(
                        kind="ces", score=1 + day % 7, channel="slack", resolver="bot", created_at=moment
                    )
                )
                # Every other day, the fourth session is abandoned instead of resolved by the bot.
                last = "abandoned" if day % 2 else "resolved_by_bot"
                for index, outcome in enumerate(("resolved_by_bot", "resolved_by_bot", "escalated", last)):
                    session.add(
                        ConversationOutcome(
                            sender_id=f"seed-{day}-{index}",
                            channel="socketio",
                            session_started_at=moment,
                            ended_at=moment + timedelta(minutes=5),
                            outcome=outcome,
                            intents=["billing"],
                        )
                    )
                session.add(
                    HandoffRequest(
                        conversation_id=conversation.id,
                        sender_id="seed",
                        channel="socketio",
                        language="en",
                        priority="normal",
                        reason="customer_request",
                        state="resolved",
                        queued_at=moment,
                        first_response_at=moment + timedelta(seconds=40 + 10 * day),
                        resolved_at=moment + timedelta(minutes=6 + day),
                    )
                )
        # Their health scores, as the rescoring does after each event (contract 3: health_scores/).
        async with database.sessions() as session:
            customer_ids = (await session.execute(select(Customer.id))).scalars().all()
        await rescore(database, Scorer.of(load_weights()), customer_ids, "seed")
        await segments.recompute(database, segments=3)
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """cs_backend alone (`serve`), on a fresh migrated SQLite database with an agent and two weeks of data."""
    base = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    secret = generate_token()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{base / 'cs_backend.db'}",
        "REDIS_URL": "",
        "CS_BACKEND_PORT": str(port),
        "CS_BACKEND_SERVICE_SECRET": secret,
        "RASA_EVENTS_URL": f"sqlite:///{base / 'rasa_events.db'}",
        "OUTCOME_POLL_INTERVAL_SECONDS": "0",
        "ONBOARDING_NUDGE_INTERVAL_SECONDS": "0",
        "TRANSCRIPT_RETENTION_INTERVAL_SECONDS": "0",
        "ROUTING_POSITION_UPDATE_SECONDS": "0",
        "LOG_FORMAT": "text",
    }
    migrate.upgrade(env["DATABASE_URL"])
    asyncio.run(seed_history(env["DATABASE_URL"]))
    log = (base / "backend.log").open("w")
    process = subprocess.Popen(
        backend_command("serve"),
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_live(url, process, base / "backend.log")
        yield Backend(url=url, secret=secret)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_until_live(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"cs_backend exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health/live", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"cs_backend did not start: {log.read_text()}")


async def post_rating(backend: Backend, score: int) -> None:
    rating = {
        "kind": "csat",
        "score": score,
        "channel": "socketio",
        "intent": "billing",
        "sender_id": CUSTOMER_CHAT,
    }
    body = json.dumps(rating).encode()
    headers = {
        "Content-Type": "application/json",
        **signature_headers(backend.secret, "POST", "/api/feedback", body),
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{backend.url}/api/feedback", data=body, headers=headers) as response,
    ):
        assert response.status == 201, await response.text()


async def painted_pixels(page: Page, canvas_id: str) -> int:
    """How many pixels of the canvas are not transparent (a blank canvas has none)."""
    count: int = await page.evaluate(
        """(id) => {
            const canvas = document.getElementById(id);
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted += 1;
            return painted;
        }""",
        canvas_id,
    )
    return count


async def test_signed_in_agent_sees_charts_and_a_new_rating_moves_the_csat_tile(backend: Backend) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{backend.url}/dashboard")
            await expect(page.get_by_test_id("signin-view")).to_be_visible()
            await page.get_by_test_id("login-email").fill(AGENT_EMAIL)
            await page.get_by_test_id("login-password").fill(PASSWORD)
            await page.get_by_test_id("login-submit").click()
            await expect(page.get_by_test_id("agent-name")).to_have_text(AGENT_NAME, timeout=WAIT_MS)
            await expect(page.get_by_test_id("live-state")).to_have_attribute(
                "data-state", "live", timeout=WAIT_MS
            )

            csat_tile = page.get_by_test_id("kpi-csat_percent")
            await expect(csat_tile).not_to_have_attribute("data-value", "", timeout=WAIT_MS)
            for chart in CHARTS:
                await expect(page.get_by_test_id(chart)).to_have_attribute(
                    "data-rendered", "true", timeout=WAIT_MS
                )
                assert await painted_pixels(page, chart) > 500, f"{chart} is blank"
            # 14 days x 4 CSAT ratings: 5, 4, then 5 or 2, then 3-5.
            before = float(await csat_tile.get_attribute("data-value") or "nan")
            assert 0 < before < 100
            await expect(
                page.get_by_test_id("kpi-containment_rate").get_by_test_id("kpi-value")
            ).to_have_text("62.5 %")

            # The customers by health score, lowest first, each with its top factors and band in words.
            rows = page.get_by_test_id("health-row")
            await expect(rows).to_have_count(10, timeout=WAIT_MS)
            scores = [int(await row.get_attribute("data-score") or "-1") for row in await rows.all()]
            assert scores == sorted(scores) and all(0 <= score <= 100 for score in scores)
            first = rows.first
            await expect(first.locator(".band")).to_have_text(await first.get_attribute("data-band") or "?")
            await expect(first.get_by_test_id("health-factor").first).to_contain_text(":")
            await expect(first.locator(".customer")).to_have_text(re.compile(r"^Customer \d$"))

            # The segments of the K-means run, largest first.
            await expect(page.get_by_test_id("segment")).to_have_count(3, timeout=WAIT_MS)
            customer_zero = page.locator("[data-testid=health-row]", has_text="Customer 0")
            score_before = int(await customer_zero.get_attribute("data-score") or "-1")

            if os.environ.get("DASHBOARD_SCREENSHOT"):
                await page.screenshot(path=os.environ["DASHBOARD_SCREENSHOT"], full_page=True)

            retention = page.get_by_test_id("kpi-retention_rate")
            await expect(retention.get_by_test_id("kpi-value")).to_have_text("80.0 %")
            await expect(page.get_by_test_id("kpi-customer_lifetime_value")).not_to_have_attribute(
                "data-value", ""
            )

            # A rating of 1 arrives through the API: the tile moves down without reloading the page.
            await post_rating(backend, 1)
            await expect(csat_tile).not_to_have_attribute("data-value", str(before), timeout=WAIT_MS)
            after = float(await csat_tile.get_attribute("data-value") or "nan")
            assert after < before
            assert "ratings" in (await csat_tile.get_by_test_id("kpi-detail").inner_text())
            # The rating was Customer 0's: rescored in the background, their score drops, with the reason.
            await expect(customer_zero).not_to_have_attribute(
                "data-score", str(score_before), timeout=WAIT_MS
            )
            assert int(await customer_zero.get_attribute("data-score") or "101") < score_before
            await expect(customer_zero.get_by_test_id("health-factor").first).to_contain_text("CSAT")
            assert not errors, errors
        finally:
            await browser.close()


async def test_console_and_dashboard_share_the_sign_in(backend: Backend) -> None:
    """Both pages sign in with static/shared/session.js: a wrong password is refused in words, the console
    signs in and goes live, and signing out of the dashboard ends the session the console held too."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            context = await browser.new_context()
            dashboard = await context.new_page()
            await dashboard.goto(f"{backend.url}/dashboard")
            await dashboard.get_by_test_id("login-email").fill(AGENT_EMAIL)
            await dashboard.get_by_test_id("login-password").fill("not the password")
            await dashboard.get_by_test_id("login-submit").click()
            await expect(dashboard.get_by_test_id("login-error")).to_have_text("Wrong email or password.")

            console = await context.new_page()
            await console.goto(f"{backend.url}/console")
            await console.get_by_test_id("login-email").fill(AGENT_EMAIL)
            await console.get_by_test_id("login-password").fill(PASSWORD)
            await console.get_by_test_id("login-submit").click()
            await expect(console.get_by_test_id("agent-name")).to_have_text(AGENT_NAME, timeout=WAIT_MS)
            await expect(console.get_by_test_id("connection-state")).to_have_attribute(
                "data-state", "live", timeout=WAIT_MS
            )

            # The same cookie session: the dashboard opens signed in, without a form.
            await dashboard.reload()
            await expect(dashboard.get_by_test_id("agent-name")).to_have_text(AGENT_NAME, timeout=WAIT_MS)
            await dashboard.get_by_test_id("sign-out").click()
            await expect(dashboard.get_by_test_id("signin-view")).to_be_visible()
            await console.reload()
            await expect(console.get_by_test_id("signin-view")).to_be_visible(timeout=WAIT_MS)
        finally:
            await browser.close()
