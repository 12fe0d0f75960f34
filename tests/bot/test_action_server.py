"""bot/action_server.py over the network: started as the launcher starts it, it runs an action only for a
caller that presents its token (as Rasa does, endpoints.yml), answers 401 with a JSON error to any other, and
keeps its health check open and the token out of its log."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rasa_sdk

from launcher.stack import ProcessSpec, ServiceStack, StartupError, free_port
from tests.bot.recording_actions import CALLS_FILE_VARIABLE
from tests.support import REPO_ROOT

STARTUP_TIMEOUT_SECONDS = 90.0


@dataclass(frozen=True)
class ActionServer:
    url: str
    token: str
    calls_file: Path
    log_path: Path

    def recorded_calls(self) -> list[str]:
        return self.calls_file.read_text().split() if self.calls_file.exists() else []


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    base = tmp_path_factory.mktemp("action_server")
    port = free_port()
    token = secrets.token_urlsafe(32)
    spec = ProcessSpec(
        name="actions",
        argv=[sys.executable, "-m", "bot.action_server", "--actions", "tests.bot.recording_actions"]
        + ["--port", str(port)],
        ready_url=f"http://127.0.0.1:{port}/health",
        env={
            "PYTHONPATH": str(REPO_ROOT),
            "ACTION_SERVER_TOKEN": token,
            CALLS_FILE_VARIABLE: str(base / "calls.txt"),
            # Its own outbox (the replayer opens it at start), and no cs_backend to deliver to.
            "ACTIONS_OUTBOX_PATH": str(base / "actions_outbox.db"),
            "CS_BACKEND_URL": f"http://127.0.0.1:{free_port()}",
        },
    )
    stack = ServiceStack([spec], log_dir=base)
    try:
        stack.start(timeout=STARTUP_TIMEOUT_SECONDS)
    except StartupError as error:
        raise RuntimeError(f"the action server did not start: {error}\n{stack.log_tails()}") from error
    try:
        yield ActionServer(f"http://127.0.0.1:{port}", token, base / "calls.txt", stack.log_path("actions"))
    finally:
        stack.stop()


def action_call(sender: str, message_id: str | None = None) -> dict[str, Any]:
    """The body Rasa POSTs to /webhook to run `action_record_call` (rasa.core.actions.action.RemoteAction)."""
    return {
        "next_action": "action_record_call",
        "sender_id": sender,
        "version": rasa_sdk.__version__,
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {},
            "latest_message": {"message_id": message_id} if message_id else {},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": None,
        },
    }


def request(url: str, body: dict[str, Any] | None = None, **query: str) -> tuple[int, Any]:
    """(status, decoded JSON answer) of a GET, or of a POST when there is a body."""
    if query:
        url = f"{url}?{urllib.parse.urlencode(query)}"
    data = None if body is None else json.dumps(body).encode()
    call = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_health_needs_no_token(action_server: ActionServer) -> None:
    assert request(f"{action_server.url}/health") == (200, {"status": "ok"})


def test_without_the_right_token_nothing_runs(action_server: ActionServer) -> None:
    token = action_server.token
    for wrong in ({}, {"token": ""}, {"token": token[:-1]}, {"token": token + "x"}, {"token": "é" * 43}):
        status, answer = request(f"{action_server.url}/webhook", action_call("intruder"), **wrong)
        assert status == 401 and "token" in answer["error"], (wrong, answer)
        assert request(f"{action_server.url}/actions", **wrong)[0] == 401
    assert action_server.recorded_calls() == []


def test_with_the_token_the_action_runs(action_server: ActionServer) -> None:
    status, answer = request(f"{action_server.url}/webhook", action_call("rasa"), token=action_server.token)
    assert status == 200, answer
    assert [response["text"] for response in answer["responses"]] == ["recorded"]
    assert action_server.recorded_calls() == ["rasa"]
    status, answer = request(f"{action_server.url}/actions", token=action_server.token)
    assert (status, answer) == (200, [{"name": "action_record_call"}])


def test_refusals_are_logged_without_any_token(action_server: ActionServer) -> None:
    request(f"{action_server.url}/webhook", action_call("intruder"), token="guessed-token-value")
    request(f"{action_server.url}/webhook", action_call("rasa"), token=action_server.token)
    log = action_server.log_path.read_text()
    assert "refused POST /webhook" in log
    assert action_server.token not in log and "guessed-token-value" not in log


def test_each_log_line_of_a_call_names_its_request_and_sender(action_server: ActionServer) -> None:
    message_id = f"m{secrets.token_hex(8)}"
    status, _ = request(
        f"{action_server.url}/webhook", action_call("logged-sender", message_id), token=action_server.token
    )
    assert status == 200
    expected = f"request_id={message_id} sender_id=logged-sender"
    # The server's log reaches the file a moment after its answer, later still on a busy machine.
    deadline = time.monotonic() + 10
    while True:
        logged = action_server.log_path.read_text().splitlines()
        lines = [line for line in logged if "recorded a call" in line]
        if any(expected in line for line in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert any(expected in line for line in lines), lines


def metrics(action_server: ActionServer, **query: str) -> tuple[int, str]:
    url = f"{action_server.url}/metrics?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_metrics_need_the_token_and_show_the_outbox(action_server: ActionServer) -> None:
    assert metrics(action_server)[0] == 401
    assert metrics(action_server, token="guessed")[0] == 401
    status, text = metrics(action_server, token=action_server.token)
    assert status == 200
    assert "actions_outbox_pending 0.0" in text
    assert "actions_outbox_oldest_age_seconds 0.0" in text
    assert 'actions_backend_requests_total{outcome="unreachable"}' in text


def test_without_a_token_the_server_does_not_start() -> None:
    env = {name: value for name, value in os.environ.items() if name != "ACTION_SERVER_TOKEN"}
    started = subprocess.run(
        [sys.executable, "-m", "bot.action_server", "--port", str(free_port())],
        cwd=REPO_ROOT,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 1
    assert "ACTION_SERVER_TOKEN is not set" in started.stderr
