"""The whole live handoff in two browsers (issue 10's "done when"): a customer chats in the widget and
asks for a person, an agent signs in to the console and accepts, they exchange messages both ways while the
bot says nothing of its own, the agent resolves, and the customer is asked the CSAT question about the human
part; the rating is stored with resolver "agent" and the agent's id.

Set HANDOFF_CONSOLE_SCREENSHOT to a file path to also save a screenshot of the console mid-conversation (how
docs/images/agent-console.png is made).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from e2e_support import RunningService
from playwright.async_api import Browser, Locator, Page, async_playwright, expect
from test_browser_widget import CHROMIUM_FLAGS, SESSION_KEY, chromium_path, send

from launcher.stack import backend_command
from tests.support import REPO_ROOT

pytestmark = pytest.mark.asyncio(loop_scope="session")

AGENT_EMAIL = "ana.console@example.com"
AGENT_NAME = "Ana Console"
PASSWORD = "a long enough agent passphrase"
# How long the bot is given to (wrongly) answer a message the customer sends while the agent holds the chat.
SILENCE_SECONDS = 4.0
WAIT_MS = 30_000


async def _json(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    async with session.request(method, url, **kwargs) as response:
        assert response.status < 300, f"{method} {url}: {response.status} {await response.text()}"
        return await response.json()


@pytest.fixture
async def agent_id(service: RunningService) -> AsyncIterator[int]:
    """An agent made with `create-agent` (English, capacity 2, no team: no business hours to keep), as
    docs/HANDOFF.md tells a person to; offline again afterwards, since the other tests of the session expect
    nobody online to take their handoffs."""
    made = await asyncio.to_thread(
        subprocess.run,
        [*backend_command("create-agent"), "--email", AGENT_EMAIL, "--name", AGENT_NAME, "--capacity", "2"],
        input=PASSWORD + "\n",
        cwd=REPO_ROOT,
        env={**os.environ, **service.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    found = re.search(r"\(account (\d+)\)", made.stdout)
    assert found, made.stdout
    try:
        yield int(found.group(1))
    finally:
        backend = service.ports.backend_url
        async with aiohttp.ClientSession() as session:
            login = await _json(
                session,
                "POST",
                f"{backend}/api/auth/login",
                json={"email": AGENT_EMAIL, "password": PASSWORD},
            )
            await _json(
                session,
                "PUT",
                f"{backend}/api/routing/agents/me/status",
                json={"status": "offline"},
                headers={"Authorization": f"Bearer {login['token']}"},
            )


async def open_widget(browser: Browser, service: RunningService) -> Page:
    page = await browser.new_page()
    await page.goto(f"{service.ports.backend_url}/")
    await page.get_by_role("button", name="Open support chat").click()
    await expect(page.get_by_test_id("widget-status")).to_have_text("online", timeout=15_000)
    return page


async def sign_in_to_console(browser: Browser, service: RunningService) -> Page:
    page = await browser.new_page(viewport={"width": 1440, "height": 900})
    await page.goto(f"{service.ports.backend_url}/console")
    await page.get_by_test_id("login-email").fill(AGENT_EMAIL)
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("agent-name")).to_have_text(AGENT_NAME, timeout=15_000)
    await expect(page.get_by_test_id("connection-state")).to_have_attribute(
        "data-state", "live", timeout=15_000
    )
    return page


def bot_texts(widget: Page) -> Locator:
    return widget.locator(".csw-bot .csw-text")


def agent_messages(widget: Page) -> Locator:
    """The messages a person of the support team wrote: labelled with their name, apart from the bot's."""
    return widget.locator(".csw-agent")


def transcript_entry(console: Page, kind: str, text: str) -> Locator:
    return console.locator(f"[data-testid='transcript-entry'][data-kind='{kind}']", has_text=text)


async def reply(console: Page, text: str) -> None:
    await console.get_by_test_id("reply-box").fill(text)
    await console.get_by_test_id("reply-box").press("Enter")


async def test_customer_and_agent_hold_the_whole_round_trip(service: RunningService, agent_id: int) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            console = await sign_in_to_console(browser, service)
            await console.get_by_test_id("status-online").check()
            await expect(console.get_by_test_id("status-toggle")).to_have_attribute(
                "data-status", "online", timeout=10_000
            )

            widget = await open_widget(browser, service)
            await send(widget, "hello")
            await expect(bot_texts(widget).first).to_be_visible(timeout=WAIT_MS)
            await send(widget, "I want to talk to a human")
            await expect(bot_texts(widget).last).to_contain_text(f"{AGENT_NAME} will join", timeout=WAIT_MS)
            token = await widget.evaluate(f"localStorage.getItem({SESSION_KEY!r})")
            sender = service.widget_sender(token)

            # The handoff is offered to the only agent online: the console shows it, the agent accepts.
            offer = console.get_by_test_id("offers-list").get_by_test_id("handoff-item")
            await expect(offer).to_have_count(1, timeout=15_000)
            await offer.get_by_test_id("accept-button").click()
            await expect(bot_texts(widget).last).to_have_text(
                f"You're now chatting with {AGENT_NAME}.", timeout=WAIT_MS
            )
            await console.get_by_test_id("mine-list").get_by_test_id("open-handoff").first.click()

            # The packet heads the agent's view: it knows what the customer said before the handoff.
            await expect(console.get_by_test_id("packet")).to_contain_text("talk to a human", timeout=15_000)

            # Agent → customer, exactly as typed (markup stays text).
            await reply(console, "Hi, I'm Ana. <b>How</b> can I help?")
            agent_said = agent_messages(widget).last
            await expect(agent_said.locator(".csw-text")).to_have_text(
                "Hi, I'm Ana. <b>How</b> can I help?", timeout=WAIT_MS
            )
            await expect(agent_said.locator(".csw-sender")).to_have_text(f"Agent {AGENT_NAME}")
            bot_count = await bot_texts(widget).count()

            # Customer → agent; messages the bot would answer itself reach the agent and nobody else.
            for text in ("hello", "how do I reset my password?"):
                await send(widget, text)
                await expect(transcript_entry(console, "customer", text).last).to_be_visible(timeout=WAIT_MS)
            await asyncio.sleep(SILENCE_SECONDS)
            assert await bot_texts(widget).count() == bot_count, "the bot spoke while the agent held the chat"

            # An internal note stays in the console.
            await console.get_by_test_id("note-toggle").check()
            await reply(console, "Customer sounds in a hurry")
            await expect(transcript_entry(console, "note", "in a hurry")).to_be_visible(timeout=15_000)
            await console.get_by_test_id("note-toggle").uncheck()
            await reply(console, "Use the 'Forgot password' link on the sign-in page.")
            await expect(agent_messages(widget).last).to_contain_text("Forgot password", timeout=WAIT_MS)
            assert "in a hurry" not in " ".join(await widget.locator(".csw-text").all_inner_texts())

            screenshot = os.environ.get("HANDOFF_CONSOLE_SCREENSHOT")
            if screenshot:
                await console.screenshot(path=screenshot)

            # The agent resolves: the conversation goes back to the bot, which asks about the human part.
            await console.get_by_test_id("resolve-button").click()
            await expect(bot_texts(widget).last).to_have_text(
                "How would you rate this support experience from 1 to 5?", timeout=WAIT_MS
            )
            await widget.locator(".csw-button", has_text="5").last.click()
            # Then CES (1-7), and the bot is itself again.
            await expect(widget.locator(".csw-button", has_text="7").last).to_be_visible(timeout=WAIT_MS)
            await widget.locator(".csw-button", has_text="6").last.click()
        finally:
            await browser.close()

    handoffs = service.query("SELECT state, agent_id FROM handoff_requests WHERE sender_id = ?", sender)
    assert [tuple(row) for row in handoffs] == [("resolved", agent_id)]
    for _ in range(30):
        feedback = service.query(
            "SELECT f.kind, f.score, f.resolver, f.agent_id FROM feedback f "
            "JOIN conversations c ON c.id = f.conversation_id WHERE c.sender_id = ? ORDER BY f.id",
            sender,
        )
        if len(feedback) == 2:
            break
        await asyncio.sleep(0.5)
    assert [tuple(row) for row in feedback] == [("csat", 5, "agent", agent_id), ("ces", 6, "agent", agent_id)]
