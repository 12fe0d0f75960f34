"""The logs of a whole ticket conversation hold no email address or phone number the customer typed; and an
admin's deletion of that customer empties their tracker in the real Rasa and their rows in the event store.

The three processes run with LOG_LEVEL=DEBUG, at which Rasa logs every message it receives ("Received user
message ..."), the actions their trackers, so the typed data certainly reaches a log call; each process's
logging setup (log_redaction) must replace it. This module starts its own stack (launcher/stack.py, as the
session's but with that log level), and reads what the launcher wrote to log_dir/<process>.log.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from chat_clients import RestChat
from e2e_support import RunningService

from launcher.stack import (
    DEFAULT_MODEL,
    Ports,
    ServiceStack,
    StartupError,
    backend_command,
    generate_token,
    service_specs,
)
from tests.support import REPO_ROOT, unavailable

pytestmark = pytest.mark.asyncio(loop_scope="module")

STARTUP_TIMEOUT_SECONDS = 300.0
PHONE = "+44 20 7946 0958"


@pytest.fixture(scope="module")
def debug_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    if not DEFAULT_MODEL.exists():
        unavailable(f"{DEFAULT_MODEL} is missing; run `make model` (make test does it)")
    base = tmp_path_factory.mktemp("e2e-log-redaction")
    database_path, log_dir = base / "cs_backend.db", base / "log"
    ports = Ports.pick_free()
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{database_path}",
        "REDIS_URL": "",
        "RASA_URL": ports.rasa_url,
        "RASA_EVENTS_DB": str(base / "rasa_events.db"),
        "RASA_TRACKER_DB": str(base / "rasa_tracker.db"),
        "ACTIONS_OUTBOX_PATH": str(base / "actions_outbox.db"),
        "RASA_AUTH_TOKEN": generate_token(),
        "ACTION_SERVER_TOKEN": generate_token(),
        "CS_BACKEND_SERVICE_SECRET": generate_token(),
        "RASA_REST_TOKEN": generate_token(),
        "LOG_LEVEL": "DEBUG",
        "ONBOARDING_NUDGE_INTERVAL_SECONDS": "0",
    }
    migrate_env = {**os.environ, **env, "LOG_LEVEL": "INFO"}
    subprocess.run(backend_command("migrate"), cwd=REPO_ROOT, env=migrate_env, check=True)
    stack = ServiceStack(service_specs(ports, DEFAULT_MODEL, env), log_dir=log_dir)
    try:
        stack.start(timeout=STARTUP_TIMEOUT_SECONDS)
    except StartupError as error:
        raise RuntimeError(f"the service did not start: {error}\n{stack.log_tails()}") from error
    try:
        yield RunningService(ports=ports, database_path=database_path, log_dir=log_dir, env=env)
    finally:
        stack.stop()


def answer(slot: str, email: str) -> str:
    if slot == "description":
        return f"The CSV export crashes. Call me on {PHONE} or write to {email}"
    if slot == "email":
        return email
    if slot == "priority":
        return "high"
    if any(word in slot for word in ("csat", "rating", "score")):
        return "5"
    raise AssertionError(f"the assistant asked for an unexpected slot {slot!r}")


async def open_ticket(service: RunningService, chat: RestChat, email: str) -> int:
    """Report a problem (with a phone number in it) and answer what the assistant asks; the ticket number."""
    said = [(await chat.say("hi")).text, (await chat.say("I found a bug")).text]
    for _ in range(8):
        slot, loop = await service.form_state(chat.sender)
        if slot is None and loop is None:
            break
        assert slot is not None, f"form {loop} active without a requested slot; bot said {said[-1]!r}"
        said.append((await chat.say(answer(slot, email))).text)
    numbers = [int(found.group(1)) for text in said if (found := re.search(r"#\s?(\d+)", text))]
    assert numbers, f"the bot never told a ticket number: {said}"
    return numbers[0]


async def test_the_logs_of_a_ticket_conversation_hold_no_email_or_phone(
    debug_service: RunningService,
) -> None:
    chat = RestChat(debug_service.ports.rasa_url, debug_service.rest_token)
    email = f"{chat.sender}@example.com"
    ticket_number = await open_ticket(debug_service, chat, email)
    rows = debug_service.query("SELECT description FROM tickets WHERE id = ?", ticket_number)
    assert PHONE in rows[0]["description"]  # stored as typed: only the logs are redacted

    logs = {
        path.name: path.read_text(encoding="utf-8", errors="replace")
        for path in debug_service.log_dir.glob("*.log")
    }
    assert {"backend.log", "actions.log", "rasa.log"} <= set(logs), sorted(logs)
    # The customer's words were logged (Rasa at DEBUG logs each message), with the data replaced.
    assert "[email]" in logs["rasa.log"] and "[phone]" in logs["rasa.log"]
    for name, text in logs.items():
        assert email not in text, f"{name} holds the customer's email"
        assert "7946 0958" not in text and "79460958" not in text, f"{name} holds the customer's phone number"


async def test_deleting_the_customer_empties_their_rasa_tracker_and_event_store_rows(
    debug_service: RunningService,
) -> None:
    chat = RestChat(debug_service.ports.rasa_url, debug_service.rest_token)
    email = f"{chat.sender}@example.com"
    ticket_number = await open_ticket(debug_service, chat, email)
    [ticket] = debug_service.query("SELECT customer_id FROM tickets WHERE id = ?", ticket_number)
    events_db = Path(debug_service.env["RASA_EVENTS_DB"])

    tracker_db = Path(debug_service.env["RASA_TRACKER_DB"])

    def stored_events(database: Path = events_db) -> int:
        with sqlite3.connect(database) as connection:
            return int(
                connection.execute(
                    "SELECT count(*) FROM events WHERE sender_id = ?", (chat.sender,)
                ).fetchone()[0]
            )

    assert stored_events() > 0
    assert stored_events(tracker_db) > 0  # Rasa's SQL tracker store (endpoints.yml)
    password = "an admin's long passphrase"
    created = await asyncio.to_thread(
        subprocess.run,
        backend_command("create-admin", "--email", "privacy-admin@example.com"),
        input=password + "\n",
        cwd=REPO_ROOT,
        env={**os.environ, **debug_service.env, "LOG_LEVEL": "INFO"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    backend = debug_service.ports.backend_url
    customer = f"{backend}/api/customers/{ticket['customer_id']}"
    async with aiohttp.ClientSession() as session:
        credentials = {"email": "privacy-admin@example.com", "password": password}
        async with session.post(f"{backend}/api/auth/login", json=credentials) as response:
            assert response.status == 200, await response.text()
            bearer = {"Authorization": f"Bearer {(await response.json())['token']}"}
        async with session.get(f"{customer}/export", headers=bearer) as response:
            assert response.status == 200, await response.text()
            export = await response.json()
        [transcript] = export["transcripts"]
        typed = [
            event.get("text") or "" for event in transcript["tracker"]["events"] if event["event"] == "user"
        ]
        assert any(email in text for text in typed), typed
        assert any(email in (event.get("text") or "") for event in transcript["events"])
        async with session.delete(customer, headers=bearer) as response:
            assert response.status == 200, await response.text()
            deletion = await response.json()
    assert deletion["trackers_emptied"] == 1 and deletion["events_deleted"] > 0
    assert stored_events() == 0
    # Emptying the tracker through Rasa's API leaves the SQL tracker store's rows: cs_backend deletes them.
    assert stored_events(tracker_db) == 0
    assert debug_service.query("SELECT id FROM tickets WHERE id = ?", ticket_number) == []
    # Rasa's tracker holds none of the conversation (reading it starts a new, empty session).
    tracker = await debug_service.tracker(chat.sender)
    assert [event for event in tracker["events"] if event["event"] in ("user", "bot", "slot")] == []
