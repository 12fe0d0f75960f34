"""The widget when the connection or Rasa goes away: it says it is reconnecting, keeps what the customer types
(across a reload too), and delivers it after the reconnection, in order and once each.

The dropped connection is the browser going offline (Playwright's `set_offline`) with the session's stack up.
The Rasa outage, with a reload while it lasts, is in test_rasa_restart.py: it shares that test's restart,
because each start of Rasa costs a minute or more.
"""

from __future__ import annotations

import aiohttp
import pytest
from e2e_support import RunningService
from playwright.async_api import Page, async_playwright, expect
from test_browser_widget import (
    CHROMIUM_FLAGS,
    SESSION_KEY,
    WAIT_MS,
    chromium_path,
    open_demo_page,
    said_in_conversation,
    say,
    send,
    turn_done,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

RECONNECTING = "Reconnecting… Messages you send now will be delivered when the assistant is back."
PROBLEM = "The CSV export crashes every time I open the reports page"


async def user_texts(rasa_url: str, token: str, sender: str) -> list[str]:
    url = f"{rasa_url}/conversations/{sender}/tracker"
    async with aiohttp.ClientSession() as session, session.get(url, params={"token": token}) as answer:
        assert answer.status == 200, await answer.text()
        tracker = await answer.json()
    return [event["text"] for event in tracker["events"] if event["event"] == "user"]


async def expect_waiting(page: Page, *texts: str) -> None:
    """The widget says it is reconnecting and shows `texts` as typed and not sent yet."""
    await expect(page.get_by_test_id("widget-banner")).to_have_text(RECONNECTING, timeout=WAIT_MS)
    await expect(page.get_by_test_id("widget-status")).to_have_text("reconnecting…")
    for text in texts:
        message = page.locator(".csw-user", has_text=text)
        await expect(message.locator(".csw-pending")).to_have_text("Not sent yet")


async def expect_delivered(page: Page) -> None:
    await expect(page.get_by_test_id("widget-status")).to_have_text("online", timeout=WAIT_MS)
    await expect(page.get_by_test_id("widget-banner")).to_be_hidden()
    await turn_done(page)


async def test_a_dropped_connection_recovers_and_delivers_what_was_typed_meanwhile(
    service: RunningService,
) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = await open_demo_page(browser, service)
            await say(page, "hello")
            sender = service.widget_sender(await page.evaluate(f"localStorage.getItem({SESSION_KEY!r})"))

            await page.context.set_offline(True)
            await send(page, "I found a bug")
            await expect_waiting(page, "I found a bug")
            await page.context.set_offline(False)
            await expect_delivered(page)
        finally:
            await browser.close()

    said = await said_in_conversation(service, sender, until="I found a bug")
    assert said == ["hello", "I found a bug"], said
