"""Render the agent console with sample data into docs/images/agent-console.png (docs/HANDOFF.md shows it).

Runs the real cs_backend on a temporary SQLite database with sample accounts, handoffs and canned responses,
signs in through the page in the system Chromium (Playwright never downloads a browser here) and opens a
conversation. The transcript (GET .../messages) and the conversation summary of the packet are sample data
served by the browser's request interception: they need the handoff messages and a Rasa tracker.

    .venv-backend/bin/python scripts/console_screenshot.py [--out docs/images/agent-console.png]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Route, async_playwright

from cs_backend import migrate
from cs_backend.accounts import service as accounts
from cs_backend.app_keys import DATABASE, ROUTING_ENGINE
from cs_backend.canned_responses import service as canned
from cs_backend.canned_responses.schemas import CannedResponseCreate
from cs_backend.config import REPO_ROOT, Settings
from cs_backend.main import create_app
from cs_backend.routing.schemas import AgentProfileSet, HandoffCreate
from cs_backend.routing.service import Actor

PASSWORD = "correct horse battery staple"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]

SAMPLE_TRANSCRIPT = [
    ("system", None, "Ana Lopez joined the conversation."),
    ("customer", None, "Hi, I was charged twice for my Pro plan this month."),
    ("agent", "Ana Lopez", "Hi Maria, I'm Ana. I'm sorry about that: let me look at your invoices."),
    ("note", "Ana Lopez", "Two charges on Nov 28, same amount. Looks like the retry bug from last week."),
    ("customer", None, "Thanks! It's urgent, our card limit is almost reached."),
]
SAMPLE_SUMMARY = {
    "intents": [
        {"intent": "billing_question", "count": 2},
        {"intent": "request_human", "count": 1},
    ],
    "slots": {"plan": "pro", "email": "maria@example.com"},
    "last_messages": [
        {"speaker": "customer", "text": "I was charged twice", "sent_at": None, "intent": "billing_question"},
        {"speaker": "bot", "text": "I can help with billing questions. What happened?", "sent_at": None},
        {"speaker": "customer", "text": "talk to a human please", "sent_at": None, "intent": "request_human"},
    ],
    "not_understood": [{"speaker": "customer", "text": "double dipped my card??", "sent_at": None}],
}


async def seed(app: web.Application) -> None:
    database = app[DATABASE]
    engine = app[ROUTING_ENGINE]
    ana = await accounts.create_account(database, "ana@example.com", "Ana Lopez", "agent", PASSWORD)
    await engine.set_profile(
        ana.id, AgentProfileSet(languages=["en", "es"], skills=["billing"], capacity=2, status="online")
    )
    for shortcut, title, text in (
        ("refund", "Refund started", "I've started the refund: it reaches your card within 5 business days."),
        ("hello", "Greeting", "Hi, I'm Ana from Acme Support. I'm reading your conversation now."),
        ("invoice", "Invoice link", "You'll find every invoice under Settings → Billing → Invoices."),
    ):
        await canned.create_response(
            database, CannedResponseCreate(title=title, shortcut=shortcut, text=text)
        )
    handoffs: list[dict[str, Any]] = [
        dict(
            sender_id="widget-maria",
            email="maria@example.com",
            reason="customer_request",
            priority="high",
            at_risk=True,
            detail="Charged twice for the Pro plan",
        ),
        dict(sender_id="widget-tom", reason="misunderstood", detail="Asked about SSO setup"),
        dict(sender_id="widget-li", language="zh", reason="low_csat", priority="urgent", high_value=True),
        dict(sender_id="widget-sam", reason="human_only_category", priority="low", skill="technical"),
    ]
    created = []
    for number, fields in enumerate(handoffs):
        fields.setdefault("skill", "billing")
        handoff, _ = await engine.request_handoff(
            HandoffCreate.model_validate({"channel": "socketio", **fields}), f"sample-{number}"
        )
        created.append(handoff)
    await engine.accept(created[0].id, Actor(ana.id, "agent"))


def packet_route(route: Route) -> Any:
    async def handle() -> None:
        response = await route.fetch()
        packet = await response.json()
        packet["conversation_available"] = True
        packet["conversation"] = SAMPLE_SUMMARY
        packet["suggested_priority"] = {
            "priority": "urgent",
            "reasons": ["requested priority: high", "the customer says it is urgent"],
        }
        packet["open_tickets"] = [
            {
                "id": 412,
                "subject": "Double charge on invoice #2291",
                "description": "",
                "priority": "high",
                "status": "open",
                "email": "maria@example.com",
                "customer_id": 1,
                "conversation_id": None,
                "channel": "socketio",
                "created_at": "2026-11-28T09:12:00Z",
                "updated_at": "2026-11-28T09:12:00Z",
            }
        ]
        packet["last_csat"] = {
            "id": 3,
            "kind": "csat",
            "score": 2,
            "comment": None,
            "ticket_id": None,
            "conversation_id": 1,
            "channel": "socketio",
            "intent": None,
            "resolver": "bot",
            "created_at": "2026-11-20T15:00:00Z",
        }
        await route.fulfill(response=response, json=packet)

    return handle()


def messages_route(route: Route) -> Any:
    entries = [
        {
            "id": number,
            "kind": kind,
            "text": text,
            "author_id": 1 if author else None,
            "author_name": author,
            "created_at": f"2026-11-30T10:{10 + number:02d}:00Z",
            "delivery": "delivered" if kind == "agent" else None,
        }
        for number, (kind, author, text) in enumerate(SAMPLE_TRANSCRIPT, start=1)
    ]
    return route.fulfill(status=200, content_type="application/json", body=json.dumps(entries))


async def screenshot(out: Path) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="console-screenshot-"))
    try:
        database_url = f"sqlite:///{workdir / 'console.db'}"
        await migrate.upgrade_async(database_url)
        app = create_app(Settings(database_url=database_url, service_secret=secrets.token_urlsafe(32)))
        app.on_startup.append(seed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            await _shoot(f"http://127.0.0.1:{port}", out)
        finally:
            await runner.cleanup()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _shoot(base_url: str, out: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise SystemExit("no Chromium found (install Debian's `chromium`)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            await page.route("**/api/routing/handoffs/*/packet", packet_route)
            await page.route("**/api/routing/handoffs/*/messages", messages_route)
            await page.goto(f"{base_url}/console")
            await page.get_by_test_id("login-email").fill("ana@example.com")
            await page.get_by_test_id("login-password").fill(PASSWORD)
            await page.get_by_test_id("login-submit").click()
            await page.wait_for_selector("[data-testid=connection-state][data-state=live]")
            await page.wait_for_selector("[data-testid=mine-list] [data-handoff-id]")
            await page.locator("[data-testid=mine-list] [data-testid=open-handoff]").first.click()
            await page.wait_for_selector("[data-testid=transcript-entry][data-kind=customer]")
            await page.wait_for_selector("[data-testid=packet-section][data-section=conversation]")
            await page.get_by_test_id("reply-box").type("/re")
            await page.wait_for_selector("[data-testid=canned-option]")
            out.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(out))
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "images" / "agent-console.png")
    args = parser.parse_args()
    asyncio.run(screenshot(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
