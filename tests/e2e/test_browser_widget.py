"""The demo website in a real browser: the widget talks to Rasa over socket.io (Rasa's CORS allows the page's
origin), shows replies, quick replies and rating scales, renders the bot's and agents' text safely, works with
the keyboard and on a phone-sized screen, and axe-core finds no serious accessibility violation.

Set WIDGET_SCREENSHOT to a file path to also save a screenshot of the widget asking for a rating (how
docs/images/widget.png was made).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import RunningService
from playwright.async_api import Browser, Page, async_playwright, expect

from bot.channels.widget_sessions import WidgetSessions
from tests.support import unavailable

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Where cs_backend/web/static/widget.js keeps the session token the server confirmed.
SESSION_KEY = "cs-widget-session-token"
AXE_SCRIPT = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
WAIT_MS = 30_000
PHONE = {"width": 375, "height": 740}
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


async def turn_done(page: Page) -> None:
    """Everything sent was acknowledged (the server does once Rasa has answered): the answer is shown."""
    await page.wait_for_function(
        "() => !document.querySelector('.csw-pending:not([hidden])')"
        " && document.querySelector('[data-testid=widget-typing]').hidden",
        timeout=WAIT_MS,
    )


async def say(page: Page, text: str) -> None:
    await send(page, text)
    await turn_done(page)


async def open_demo_page(
    browser: Browser, service: RunningService, init_script: str | None = None, **context: Any
) -> Page:
    """The demo page in a new browser context (`init_script` runs before the page's own), its widget open."""
    browser_context = await browser.new_context(**context)
    if init_script:
        await browser_context.add_init_script(init_script)
    page = await browser_context.new_page()
    await page.goto(f"{service.ports.backend_url}/")
    await page.get_by_role("button", name="Open support chat").click()
    await expect(page.get_by_test_id("widget-status")).to_have_text("online", timeout=15_000)
    return page


async def serious_accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now (tests/e2e/vendor/)."""
    await page.add_script_tag(path=str(AXE_SCRIPT))
    violations: list[dict[str, Any]] = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


async def sender_of(page: Page, service: RunningService) -> str:
    return service.widget_sender(await page.evaluate(f"localStorage.getItem({SESSION_KEY!r})"))


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


async def agent_says(service: RunningService, sender: str, text: str) -> None:
    """An agent's message of a live handoff, on the path cs_backend relays it (docs/HANDOFF.md, "Relay")."""
    url = f"{service.ports.rasa_url}/conversations/{sender}/trigger_intent"
    body = {"name": "EXTERNAL_agent_message", "entities": {"agent_name": "Ana", "text": text}}
    params = {"output_channel": "socketio", "token": service.rasa_token}
    async with aiohttp.ClientSession() as session, session.post(url, json=body, params=params) as answer:
        assert answer.status == 200, await answer.text()


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


TICKET_ANSWERS = {
    "description": "The CSV export button does nothing when I click it on the reports page",
    "email": "{sender}@example.com",
}


async def test_a_ticket_with_quick_replies_then_csat_and_ces_rating_scales(service: RunningService) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = await open_demo_page(browser, service)
            # The typing indicator shows while the assistant is answering.
            await page.evaluate(
                "() => { const t = document.querySelector('[data-testid=widget-typing]');"
                " new MutationObserver(() => { if (!t.hidden) window.typingSeen = true; })"
                ".observe(t, {attributes: true}); }"
            )
            await say(page, "I found a bug")
            assert await page.evaluate("window.typingSeen === true")
            sender = await sender_of(page, service)
            csat = page.get_by_role("group", name="Rating from 1 (poor) to 5 (excellent)")
            for _ in range(6):
                slot, _loop = await service.form_state(sender)
                if slot == "priority":
                    # A quick reply: the button the bot offered, sent as its payload, shown as its title.
                    replies = page.get_by_role("group", name="Suggested replies").last
                    await replies.get_by_role("button", name="High").click()
                    await turn_done(page)
                elif slot in TICKET_ANSWERS:
                    await say(page, TICKET_ANSWERS[slot].format(sender=sender))
                else:
                    break
            await expect(csat).to_be_visible(timeout=WAIT_MS)
            assert await csat.get_by_role("button").count() == 5
            screenshot = os.environ.get("WIDGET_SCREENSHOT")
            if screenshot:
                await page.screenshot(path=screenshot)
            assert await serious_accessibility_violations(page) == []

            await csat.get_by_role("button", name="5 of 5, excellent").click()
            ces = page.get_by_role("group", name="Ease from 1 (very difficult) to 7 (very easy)")
            await expect(ces).to_be_visible(timeout=WAIT_MS)
            assert await ces.get_by_role("button").count() == 7
            await expect(csat).to_have_count(0)  # an answered question's buttons go
            await ces.get_by_role("button", name="6 of 7").click()
            await turn_done(page)
        finally:
            await browser.close()

    for _ in range(30):
        feedback = service.query(
            "SELECT f.kind, f.score, f.channel FROM feedback f "
            "JOIN conversations c ON c.id = f.conversation_id WHERE c.sender_id = ? ORDER BY f.id",
            sender,
        )
        if len(feedback) == 2:
            break
        await asyncio.sleep(0.5)
    assert [tuple(row) for row in feedback] == [("csat", 5, "socketio"), ("ces", 6, "socketio")]
    tickets = service.query("SELECT priority FROM tickets WHERE email = ?", f"{sender}@example.com")
    assert [row["priority"] for row in tickets] == ["high"]


async def test_agent_text_is_formatted_safely_and_counted_as_unread_while_minimised(
    service: RunningService,
) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = await open_demo_page(browser, service)
            await say(page, "hello")
            sender = await sender_of(page, service)
            await page.get_by_role("button", name="Close chat").click()
            await expect(page.get_by_test_id("widget-unread")).to_be_hidden()

            await agent_says(
                service,
                sender,
                "**Fixed** in *today's* release, see [the notes](https://example.com/notes?a=1&b=2)\n"
                '<script>window.injected = true</script><img src=x onerror="window.injected = true">'
                " [not a link](javascript:window.injected=true) https://example.com/status.",
            )
            badge = page.get_by_test_id("widget-unread")
            await expect(badge).to_have_text("1", timeout=WAIT_MS)
            await expect(
                page.get_by_role("button", name="Open support chat (1 unread message)")
            ).to_be_visible()
            await page.get_by_role("button", name="Open support chat (1 unread message)").click()
            await expect(badge).to_be_hidden()

            message = page.locator(".csw-agent .csw-text").last
            await expect(message.locator("strong")).to_have_text("Fixed")
            await expect(message.locator("em")).to_have_text("today's")
            links = message.get_by_role("link")
            assert await links.evaluate_all("links => links.map(a => [a.textContent, a.href, a.rel])") == [
                ["the notes", "https://example.com/notes?a=1&b=2", "noopener noreferrer nofollow"],
                ["https://example.com/status", "https://example.com/status", "noopener noreferrer nofollow"],
            ]
            # Markup is shown as the text it is; nothing of it runs or loads.
            await expect(message).to_contain_text("<script>window.injected = true</script><img src=x")
            await expect(message).to_contain_text("[not a link](javascript:window.injected=true)")
            assert await message.locator("br").count() == 1
            assert await page.evaluate("document.querySelectorAll('.csw script, .csw img').length") == 0
            assert await page.evaluate("window.injected") is None
        finally:
            await browser.close()


async def test_keyboard_and_phone_sized_screen(service: RunningService) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = await (await browser.new_context(viewport=PHONE, has_touch=True)).new_page()
            await page.goto(f"{service.ports.backend_url}/")
            launcher = page.get_by_role("button", name="Open support chat")
            await launcher.focus()
            await page.keyboard.press("Enter")
            dialog = page.get_by_role("dialog", name="Acme Support chat")
            await expect(dialog).to_be_visible()
            await expect(page.get_by_role("textbox", name="Message")).to_be_focused()
            # The open panel takes the whole phone screen, and nothing overflows sideways.
            box = await dialog.bounding_box()
            assert box is not None and box["width"] == PHONE["width"] and box["height"] == PHONE["height"]
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            await expect(page.get_by_test_id("widget-status")).to_have_text("online", timeout=15_000)

            await page.keyboard.type("hello")
            await page.keyboard.press("Enter")
            await turn_done(page)
            await expect(page.locator(".csw-bot .csw-text").first).to_be_visible()
            # Focus order: the message box, then Send; the conversation can be scrolled by keyboard.
            await page.keyboard.press("Tab")
            await expect(page.get_by_role("button", name="Send")).to_be_focused()
            await page.keyboard.press("Shift+Tab")
            await expect(page.get_by_role("textbox", name="Message")).to_be_focused()
            assert await page.get_by_role("list", name="Conversation").get_attribute("tabindex") == "0"
            assert await serious_accessibility_violations(page) == []

            # Escape closes the chat and gives the focus back to the button that opens it.
            await page.keyboard.press("Escape")
            await expect(dialog).to_be_hidden()
            await expect(launcher).to_be_focused()
        finally:
            await browser.close()
