"""Issue 3's journeys through the whole running service (cs_backend + action server + Rasa, real model):

- onboarding guided by cs_backend's checklist, step by step to the end, then the CES question, stored;
- two misunderstandings in a row end with the offer of a person, which opens a ticket (until live handoff
  exists);
- a cancellation request gets an offer and leaves a churn signal in cs_backend;
- a stalled customer gets a proactive nudge on the socket.io widget they last chatted on.

Buttons are pressed by sending their payload, as the widget does; free text goes through NLU.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess

import pytest
from chat_clients import RestChat, SocketChat
from e2e_support import RunningService

from launcher.stack import backend_command
from tests.support import REPO_ROOT

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_onboarding_step_by_step_to_the_ces_question(service: RunningService) -> None:
    chat = RestChat(service.ports.rasa_url, service.rest_token)
    steps = (await service.backend_json("/api/onboarding/steps"))["steps"]

    turn = await chat.say("what should I do next?")
    assert steps[0]["title"] in turn.text and f"0 of {len(steps)}" in turn.text, turn.text
    assert "/onboarding_step_done" in [button["payload"] for button in turn.buttons]

    # Asked about a step, "I've done it" marks that step; afterwards it marks the next open one each time.
    turn = await chat.say(f"how do I {steps[4]['title'].lower()}?")
    assert steps[4]["how_to"] in turn.text, turn.text
    order = [steps[4]] + [step for step in steps if step is not steps[4]]
    for done in range(1, len(order) + 1):
        turn = await chat.say("/onboarding_step_done")  # the "I've done it" button
        progress = await service.backend_json(
            "/api/onboarding/progress", sender_id=chat.sender, channel="rest"
        )
        done_keys = {state["key"] for state in progress["steps"] if state["done"]}
        assert done_keys == {s["key"] for s in order[:done]}, (done, turn.text)
        if done < len(steps):
            assert f"{done} of {len(steps)}" in turn.text and order[done]["title"] in turn.text, turn.text
    assert progress["completed"]
    assert await service.form_state(chat.sender) == (
        "ces_score",
        "onboarding_feedback_form",
    )

    await chat.say("6")
    rows = service.query(
        "SELECT f.kind, f.score, f.intent, f.channel FROM feedback f JOIN conversations c"
        " ON c.id = f.conversation_id WHERE c.sender_id = ?",
        chat.sender,
    )
    assert [tuple(row) for row in rows] == [("ces", 6, "onboarding", "rest")]


async def test_two_misunderstandings_offer_a_person_who_gets_a_ticket(service: RunningService) -> None:
    chat = RestChat(service.ports.rasa_url, service.rest_token)
    email = f"{chat.sender}@example.com"

    turn = await chat.say("vlorp")
    payloads = [button["payload"] for button in turn.buttons]
    assert "/out_of_scope" in payloads and len(payloads) >= 2, turn  # "Did you mean…?" + "Something else"

    turn = await chat.say("zzxq blick")
    assert "/request_human" in [button["payload"] for button in turn.buttons], turn

    await chat.say("/request_human")  # "Yes, get me a person"
    assert await service.form_state(chat.sender) == ("email", "ticket_form")
    turn = await chat.say(email)
    found = re.search(r"#(\d+)", turn.text)
    assert found, turn.text

    tickets = await service.backend_json("/api/tickets", email=email)
    assert [ticket["id"] for ticket in tickets["items"]] == [int(found.group(1))]
    assert "vlorp" in tickets["items"][0]["description"]


async def test_cancellation_offer_accepted_records_a_churn_signal(service: RunningService) -> None:
    chat = RestChat(service.ports.rasa_url, service.rest_token)
    turn = await chat.say("I want to cancel my subscription")
    assert '/inform{"cancel_reason": "too_expensive"}' in [button["payload"] for button in turn.buttons], turn
    turn = await chat.say('/inform{"cancel_reason": "too_expensive"}')
    assert "50%" in turn.text, turn.text
    await chat.say("/affirm")

    signals = await service.backend_json("/api/churn/signals")
    mine = [s for s in signals["items"] if s["reason"] == "too_expensive" and s["outcome"] == "retained"]
    conversations = service.query(
        "SELECT c.id FROM conversations c WHERE c.sender_id = ? AND c.channel = 'rest'", chat.sender
    )
    assert [s["conversation_id"] for s in mine] == [conversations[0]["id"]], signals


async def test_stalled_customer_is_nudged_on_the_widget(service: RunningService) -> None:
    chat = SocketChat(service.ports.rasa_url)
    await chat.connect()
    try:
        await chat.say("what should I do next?")
        # The stack runs with ONBOARDING_STALLED_AFTER_HOURS=0.0005 (1.8 s): wait until this customer stalls.
        await asyncio.sleep(2.5)
        nudge = await asyncio.to_thread(
            subprocess.run,
            backend_command("nudge-stalled"),
            cwd=REPO_ROOT,
            env={**os.environ, **service.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "onboarding nudges sent" in nudge.stdout, nudge.stdout + nudge.stderr
        message = await asyncio.wait_for(chat.inbox.get(), 30)
    finally:
        await chat.close()
    steps = (await service.backend_json("/api/onboarding/steps"))["steps"]
    assert steps[0]["title"] in message["text"] and "Hi again" in message["text"], message
