"""The outbox in the running action server (bot/action_server.py, started as the launcher starts it): what a
previous run left pending is delivered to the real cs_backend once the server starts, and GET /metrics shows
the outbox emptied and the requests it made."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
import urllib.request
from pathlib import Path

from action_test_support import tickets_of
from conftest import RunningBackend

from actions.api.outbox import Outbox
from launcher.stack import ProcessSpec, ServiceStack, StartupError, free_port
from tests.support import REPO_ROOT

STARTUP_TIMEOUT_SECONDS = 90.0
DELIVERY_TIMEOUT_SECONDS = 30.0


def _metrics(url: str, token: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics?token={token}", timeout=30) as response:
        return response.read().decode()


async def test_what_was_pending_before_a_start_is_delivered_once(
    backend: RunningBackend, sender_id: str, tmp_path: Path
) -> None:
    outbox_path = tmp_path / "left_by_a_crash.db"
    body = {
        "description": "exports are empty since the last release",
        "email": "jane@startup.io",
        "sender_id": sender_id,
        "channel": "rest",
    }
    await Outbox(outbox_path).put(
        method="POST",
        path="/api/tickets",
        body=json.dumps(body).encode(),
        idempotency_key=f"rasa-ticket-{sender_id}",
        request_id="msg-queued-before-the-crash",
    )
    port, token = free_port(), secrets.token_urlsafe(32)
    spec = ProcessSpec(
        name="actions",
        argv=[sys.executable, "-m", "bot.action_server", "--port", str(port)],
        ready_url=f"http://127.0.0.1:{port}/health",
        env={
            "PYTHONPATH": str(REPO_ROOT),
            "ACTION_SERVER_TOKEN": token,
            "ACTIONS_OUTBOX_PATH": str(outbox_path),
            "CS_BACKEND_URL": backend.url,
            "CS_BACKEND_SERVICE_SECRET": backend.service_secret,
        },
    )
    stack = ServiceStack([spec], log_dir=tmp_path)
    try:
        await asyncio.to_thread(stack.start, timeout=STARTUP_TIMEOUT_SECONDS)
    except StartupError as error:
        raise RuntimeError(f"the action server did not start: {error}\n{stack.log_tails()}") from error
    try:
        deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
        while (await Outbox(outbox_path).depth()).pending:
            assert time.monotonic() < deadline, stack.log_tails()
            await asyncio.sleep(0.1)
        text = await asyncio.to_thread(_metrics, f"http://127.0.0.1:{port}", token)
    finally:
        await asyncio.to_thread(stack.stop)

    (ticket,) = tickets_of(backend, sender_id)["items"]
    assert ticket["description"] == body["description"]
    (entry,) = await Outbox(outbox_path).entries()
    assert (entry.state, entry.attempts) == ("delivered", 1)
    assert "actions_outbox_pending 0.0" in text
    assert 'actions_backend_requests_total{outcome="success"} 1.0' in text
    log = stack.log_path("actions").read_text()
    assert "request_id=msg-queued-before-the-crash" in log and "delivered" in log
