"""Conversations survive a restart of the Rasa server (endpoints.yml: Rasa's SQL tracker store in a SQLite
file), and the widget carries its customer through it.

One restart serves both customers, because starting Rasa is the slowest step of the suite (a minute or more
per start on two cores):
- a REST customer half-fills the ticket form before the restart; after it, the form goes on with what was
  already given;
- a widget customer keeps typing while Rasa is down; the widget says it is reconnecting, keeps the messages
  across a page reload, and delivers them after the restart, in order and once each.

The test starts a Rasa server of its own (the session's cs_backend and action server behind it) on a free
port with its own tracker store file, stops it (SIGTERM, then SIGKILL as ServiceStack does), and starts
another on the same file. The widget's page, served by the session's cs_backend, stays open throughout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from chat_clients import RestChat
from e2e_support import RunningService
from playwright.async_api import async_playwright, expect
from test_browser_widget import CHROMIUM_FLAGS, SESSION_KEY, chromium_path, open_demo_page, say, send
from test_widget_reconnect import PROBLEM, expect_delivered, expect_waiting, user_texts

from launcher.stack import (
    DEFAULT_MODEL,
    SERVICE_SECRET_VARIABLE,
    ServiceStack,
    StartupError,
    free_port,
    service_specs,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

STARTUP_TIMEOUT_SECONDS = 300.0


class OwnRasa:
    """A Rasa server on its own port and tracker store file, talking to the session's action server."""

    def __init__(self, service: RunningService, tracker_db: Path, log_dir: Path) -> None:
        self.ports = dataclasses.replace(service.ports, rasa=free_port())
        env = {**service.env, "RASA_TRACKER_DB": str(tracker_db), "RASA_URL": self.ports.rasa_url}
        env.pop(SERVICE_SECRET_VARIABLE, None)
        *_, rasa = service_specs(self.ports, DEFAULT_MODEL, env)
        self.spec = rasa
        self.log_dir = log_dir
        self.stack: ServiceStack | None = None

    def start(self) -> None:
        self.stack = ServiceStack([self.spec], log_dir=self.log_dir)
        try:
            self.stack.start(timeout=STARTUP_TIMEOUT_SECONDS)
        except StartupError as error:
            raise RuntimeError(f"Rasa did not start: {error}\n{self.stack.log_tails()}") from error

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            self.stack = None


@pytest.fixture
def own_rasa(service: RunningService, tmp_path: Path) -> Iterator[OwnRasa]:
    rasa = OwnRasa(service, tmp_path / "rasa_tracker.db", tmp_path / "log")
    try:
        yield rasa
    finally:
        rasa.stop()


async def test_a_form_and_the_widget_carry_on_across_a_rasa_restart(
    service: RunningService, own_rasa: OwnRasa
) -> None:
    await asyncio.to_thread(own_rasa.start)
    rasa_url = own_rasa.ports.rasa_url
    rest = RestChat(rasa_url, service.rest_token)
    email = f"{rest.sender}@example.com"
    await rest.say("I found a bug")
    turn = await rest.say("The CSV export crashes every time I open the reports page")
    assert "email" in turn.text.lower(), turn.text  # the form asks the next slot

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            # The embedding page's config object points the widget at this test's Rasa (docs/WIDGET.md).
            config = f"window.csWidgetConfig = {{rasaUrl: {json.dumps(rasa_url)}}};"
            page = await open_demo_page(browser, service, init_script=config)
            await say(page, "hello")
            sender = service.widget_sender(await page.evaluate(f"localStorage.getItem({SESSION_KEY!r})"))

            await asyncio.to_thread(own_rasa.stop)
            await expect_waiting(page)
            await send(page, "I found a bug")
            await send(page, PROBLEM)
            await expect_waiting(page, "I found a bug", PROBLEM)
            # A reload keeps them (and the conversation so far), still waiting to be sent.
            await page.reload()
            await page.get_by_role("button", name="Open support chat").click()
            await expect_waiting(page, "I found a bug", PROBLEM)
            await expect(page.locator(".csw-user .csw-text")).to_have_text(
                ["hello", "I found a bug", PROBLEM]
            )

            await asyncio.to_thread(own_rasa.start)
            await expect_delivered(page)
            await expect(page.locator(".csw-pending:visible")).to_have_count(0)
        finally:
            await browser.close()

    said = await user_texts(rasa_url, service.rasa_token, sender)
    assert said == ["hello", "I found a bug", PROBLEM], said

    # The new process finds the REST customer's form where it was: the email answers its question.
    turn = await rest.say(email)
    for _ in range(3):
        if re.search(r"#\s?\d+", turn.text):
            break
        turn = await rest.say("high")  # the priority, if the form asks for it
    found = re.search(r"#\s?(\d+)", turn.text)
    assert found, turn.text
    tickets = await service.backend_json("/api/tickets", email=email)
    [ticket] = tickets["items"]
    assert ticket["id"] == int(found.group(1))
    assert "CSV export crashes" in ticket["description"]
