"""Conversations survive a restart of the Rasa server (endpoints.yml: Rasa's SQL tracker store in a SQLite
file): a ticket form half-filled before the restart goes on after it, with what was already given.

The test starts a Rasa server of its own (the session's cs_backend and action server behind it) on a free
port with its own tracker store file, stops it mid-form (SIGTERM, then SIGKILL as ServiceStack does), and
starts another on the same file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from chat_clients import RestChat
from e2e_support import RunningService

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


async def test_a_half_filled_ticket_form_goes_on_after_a_rasa_restart(
    service: RunningService, own_rasa: OwnRasa
) -> None:
    await asyncio.to_thread(own_rasa.start)
    chat = RestChat(own_rasa.ports.rasa_url, service.rest_token)
    email = f"{chat.sender}@example.com"
    await chat.say("I found a bug")
    turn = await chat.say("The CSV export crashes every time I open the reports page")
    assert "email" in turn.text.lower(), turn.text  # the form asks the next slot

    await asyncio.to_thread(own_rasa.stop)
    await asyncio.to_thread(own_rasa.start)

    # The new process finds the form where it was: the email answers its question.
    turn = await chat.say(email)
    for _ in range(3):
        if re.search(r"#\s?\d+", turn.text):
            break
        turn = await chat.say("high")  # the priority, if the form asks for it
    found = re.search(r"#\s?(\d+)", turn.text)
    assert found, turn.text
    tickets = await service.backend_json("/api/tickets", email=email)
    [ticket] = tickets["items"]
    assert ticket["id"] == int(found.group(1))
    assert "CSV export crashes" in ticket["description"]
