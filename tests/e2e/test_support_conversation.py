"""A customer reports a problem, gets a ticket number, rates the help (CSAT, then CES): over REST and
socket.io.

The test answers whatever the assistant asks for, as a person would, by reading the form's requested slot from
Rasa's tracker API, so it checks behaviour (a ticket and a rating end up in the database) rather than wording.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable

import pytest
from chat_clients import BotTurn, RestChat, SocketChat
from e2e_support import RunningService

pytestmark = pytest.mark.asyncio(loop_scope="session")

ANSWERS = {
    "description": "The CSV export button does nothing when I click it on the reports page",
    "email": "{email}",
    "priority": "high",
}
RATING = "5"


def answer_for(slot: str, email: str) -> str:
    if slot in ANSWERS:
        return ANSWERS[slot].format(email=email)
    if any(word in slot for word in ("csat", "rating", "score")):
        return RATING
    raise AssertionError(f"the assistant asked for an unexpected slot {slot!r}")


async def report_problem_and_rate(
    say: Callable[[str], Awaitable[BotTurn]], service: RunningService, sender: str, email: str
) -> tuple[int, list[str]]:
    """Run the conversation; return the ticket number the bot told and everything it said."""
    transcript: list[str] = []
    turn = await say("hi")
    transcript.append(turn.text)
    turn = await say("I found a bug")
    transcript.append(turn.text)
    ticket_number: int | None = None
    for _ in range(8):
        slot, loop = await service.form_state(sender)
        if slot is None and loop is None:
            break
        assert slot is not None, f"form {loop} active without a requested slot; bot said {transcript[-1]!r}"
        turn = await say(answer_for(slot, email))
        transcript.append(turn.text)
        found = re.search(r"#\s?(\d+)", turn.text)
        if found and ticket_number is None:
            ticket_number = int(found.group(1))
    assert ticket_number is not None, f"the bot never told a ticket number: {transcript}"
    return ticket_number, transcript


async def test_ticket_and_rating_over_rest(service: RunningService) -> None:
    chat = RestChat(service.ports.rasa_url, service.rest_token)
    email = f"{chat.sender}@example.com"
    number, _ = await report_problem_and_rate(chat.say, service, chat.sender, email)

    # What the API says ...
    page = await service.backend_json("/api/tickets", email=email)
    assert [t["id"] for t in page["items"]] == [number]
    ticket = page["items"][0]
    assert ticket["priority"] == "high" and ticket["status"] == "open" and ticket["channel"] == "rest"
    assert "CSV export" in ticket["description"]

    # ... and what the database holds.
    rows = service.query("SELECT id, email, priority FROM tickets WHERE id = ?", number)
    assert [(r["email"], r["priority"]) for r in rows] == [(email, "high")]
    ratings = service.query(
        "SELECT kind, score, channel, resolver FROM feedback WHERE ticket_id = ? ORDER BY id", number
    )
    assert [tuple(r) for r in ratings] == [("csat", 5, "rest", "bot"), ("ces", 5, "rest", "bot")]

    # The conversation's outcome reaches cs_backend through Rasa's event broker once the session ends.
    await chat.say("/session_start")
    outcome = await wait_for_outcome(service, chat.sender)
    assert outcome["outcome"] == "ticket_created" and outcome["channel"] == "rest"
    assert "report_problem" in json.loads(outcome["intents"])


async def wait_for_outcome(service: RunningService, sender: str, timeout: float = 30) -> dict[str, str]:
    for _ in range(int(timeout / 0.5)):
        rows = service.query(
            "SELECT outcome, channel, intents FROM conversation_outcomes WHERE sender_id = ?", sender
        )
        if rows:
            return dict(rows[0])
        await asyncio.sleep(0.5)
    raise AssertionError(f"no outcome recorded for {sender} within {timeout} s")


async def test_ticket_and_rating_over_socketio_like_the_widget(service: RunningService) -> None:
    chat = SocketChat(service.ports.rasa_url)
    await chat.connect()
    try:
        sender = service.widget_sender(chat.token)
        email = f"{sender}@example.com"
        number, _ = await report_problem_and_rate(chat.say, service, sender, email)
    finally:
        await chat.close()

    rows = service.query("SELECT email, channel FROM tickets WHERE id = ?", number)
    assert [tuple(r) for r in rows] == [(email, "socketio")]
    ratings = service.query(
        "SELECT kind, score, channel FROM feedback WHERE ticket_id = ? ORDER BY id", number
    )
    assert [tuple(r) for r in ratings] == [("csat", 5, "socketio"), ("ces", 5, "socketio")]


async def test_ticket_status_by_number_over_rest(service: RunningService) -> None:
    chat = RestChat(service.ports.rasa_url, service.rest_token)
    number, _ = await report_problem_and_rate(chat.say, service, chat.sender, f"{chat.sender}@example.com")
    turn = await chat.say(f"what is the status of ticket {number}?")
    assert str(number) in turn.text and "open" in turn.text.lower(), turn.text


async def test_polling_transport_also_gets_replies(service: RunningService) -> None:
    # Browsers that cannot upgrade to websocket stay on HTTP long-polling: replies must arrive there too.
    chat = SocketChat(service.ports.rasa_url, transports=["polling"])
    await chat.connect()
    try:
        turn = await chat.say("hello")
    finally:
        await chat.close()
    assert turn.texts
