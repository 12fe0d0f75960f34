"""The demo website in a real browser: the widget talks to Rasa over socket.io (Rasa's CORS allows the page's
origin), shows replies and buttons."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest
from e2e_support import RunningService
from playwright.async_api import Page, async_playwright, expect

from bot.channels.widget_sessions import WidgetSessions
from tests.support import unavailable

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Where cs_backend/web/static/widget.js keeps the session token the server confirmed.
SESSION_KEY = "cs-widget-session-token"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
    )
    if not path:
        unavailable("no Chromium found (install Debian's `chromium` or set CHROMIUM_PATH)")
    return path


async def send(page: Page, text: str) -> None:
    await page.fill(".csw-input", text)
    await page.press(".csw-input", "Enter")


async def said_in_conversation(service: RunningService, sender: str, until: str) -> list[str]:
    """What the customer said in the conversation of `sender`, once Rasa has `until` in it (30 s at most)."""
    said: list[str] = []
    for _ in range(60):
        tracker = await service.tracker(sender)
        said = [event["text"] for event in tracker["events"] if event["event"] == "user"]
        if until in said:
            return said
        await asyncio.sleep(0.5)
    raise AssertionError(f"{until!r} never reached the conversation {sender}: {said}")


async def test_widget_chat_in_browser(service: RunningService) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{service.ports.backend_url}/")
            await expect(page.get_by_role("heading", name="Acme Cloud")).to_be_visible()

            await page.get_by_role("button", name="Open support chat").click()
            await expect(page.get_by_test_id("widget-status")).to_have_text("online", timeout=15_000)

            # The widget's fallback transport, HTTP long-polling, is a cross-origin request from this page:
            # Rasa's CORS allows the demo website's origin (RASA_CORS_ORIGINS), so the browser lets it pass.
            handshake = await page.evaluate(
                "url => fetch(url).then(answer => answer.text())",
                f"{service.ports.rasa_url}/socket.io/?EIO=4&transport=polling",
            )
            assert handshake.startswith("0{"), handshake

            await send(page, "hello")
            bot_messages = page.locator(".csw-bot .csw-text")
            await expect(bot_messages.first).to_be_visible(timeout=30_000)
            assert (await bot_messages.first.inner_text()).strip()

            # The widget keeps the session token the server issued (it never makes one up) ...
            token = await page.evaluate(f"localStorage.getItem({SESSION_KEY!r})")
            assert WidgetSessions(service.env["WIDGET_SESSION_SECRET"]).verified(token) == token
            # ... and a reload presents it: the same conversation goes on, with its transcript.
            await page.reload()
            await page.get_by_role("button", name="Open support chat").click()
            await expect(page.get_by_test_id("widget-status")).to_have_text("online", timeout=15_000)
            assert await page.evaluate(f"localStorage.getItem({SESSION_KEY!r})") == token
            await expect(page.locator(".csw-user .csw-text").first).to_have_text("hello")
            await send(page, "I found a bug")
            said = await said_in_conversation(service, service.widget_sender(token), until="I found a bug")
            assert said[0] == "hello", said
        finally:
            await browser.close()
