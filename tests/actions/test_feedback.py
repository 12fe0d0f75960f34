"""The feedback actions (actions/feedback.py): the two rating forms' validation, driven like Rasa drives it,
and storing the ratings against a real running cs_backend (see conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from action_test_support import (
    DOMAIN,
    action_event,
    backend_breaking_its_contract,
    create_ticket,
    form_resumed_after_a_digression,
    make_tracker,
    render_response,
    run_action,
    slot_event,
    slot_values,
    user_event,
)
from conftest import RunningBackend
from rasa_sdk.executor import CollectingDispatcher
from routing_contract_backend import RoutingContractBackend

from actions.api.outbox import OUTBOX_PATH_ENV, default_outbox
from actions.feedback import ActionRecordFeedback, ValidateFeedbackForm, ValidateOnboardingFeedbackForm

# --- the feedback forms' validation -------------------------------------------------------------------------


async def _validate_csat(text: str) -> dict[str, Any]:
    events = [
        user_event(text, "rate"),
        slot_event("requested_slot", "csat_score"),
        action_event("feedback_form"),
        slot_event("csat_score", text),
    ]
    tracker = make_tracker(
        "csat-test",
        events,
        slots={"csat_score": text, "requested_slot": "csat_score"},
        active_loop="feedback_form",
    )
    return slot_values(await ValidateFeedbackForm().run(CollectingDispatcher(), tracker, DOMAIN))


async def _validate_ces(text: str, form: str = "feedback_form") -> dict[str, Any]:
    events = [
        user_event(text, "rate"),
        slot_event("requested_slot", "ces_score"),
        action_event(form),
        slot_event("ces_score", text),
    ]
    slots = {"ces_score": text, "requested_slot": "ces_score"}
    if form == "feedback_form":
        slots["csat_score"] = 4.0
    tracker = make_tracker("ces-test", events, slots=slots, active_loop=form)
    validator = ValidateFeedbackForm() if form == "feedback_form" else ValidateOnboardingFeedbackForm()
    dispatcher = CollectingDispatcher()
    result = slot_values(await validator.run(dispatcher, tracker, DOMAIN))
    assert dispatcher.messages == []
    return result


async def test_csat_words_stars_and_emoji_become_scores() -> None:
    for text, score in [("four", 4), ("4/5", 4), ("★★★★", 4), ("⭐⭐⭐⭐⭐", 5), ("😀", 5), ("🙁", 2)]:
        slots = await _validate_csat(text)
        assert slots["csat_score"] == score, text
        assert slots["form_hint"] is None


async def test_csat_without_a_rating_is_asked_again() -> None:
    slots = await _validate_csat("thanks!")
    assert slots["csat_score"] is None and slots["form_hint"] == "csat_invalid"
    (question,) = render_response("utter_ask_csat_score", slots)
    assert "1 (poor) to 5 (excellent)" in question


async def test_ces_numbers_and_words_become_scores_in_both_forms() -> None:
    for form in ("feedback_form", "onboarding_feedback_form"):
        for text, score in [("6", 6), ("six", 6), ("6/7", 6), ("very easy", 7), ("a bit difficult", 3)]:
            slots = await _validate_ces(text, form)
            assert slots["ces_score"] == score, (form, text)
            assert slots["form_hint"] is None


async def test_ces_without_a_score_is_asked_again() -> None:
    slots = await _validate_ces("no idea")
    assert slots["ces_score"] is None and slots["form_hint"] == "ces_invalid"
    (question,) = render_response("utter_ask_ces_score", slots)
    assert "1 (very difficult) to 7 (very easy)" in question

    slots = await _validate_ces("★★★★", "onboarding_feedback_form")
    assert slots["ces_score"] is None and slots["form_hint"] == "ces_invalid"
    (question,) = render_response("utter_ask_onboarding_feedback_form_ces_score", slots)
    assert "1 (very difficult) to 7 (very easy)" in question


async def test_ces_out_of_range_is_asked_again() -> None:
    for text in ("8", "0", "10/5"):
        slots = await _validate_ces(text)
        assert slots["ces_score"] is None and slots["form_hint"] == "ces_invalid", text


async def test_feedback_form_resuming_after_a_digression_drops_the_previous_remark() -> None:
    tracker = form_resumed_after_a_digression(
        "feedback_form", user_event("hmm", "rate"), requested_slot="ces_score", hint="ces_invalid"
    )
    result = await ValidateFeedbackForm().run(CollectingDispatcher(), tracker, DOMAIN)
    assert slot_values(result) == {"form_hint": None}


async def test_rating_request_without_a_number_just_asks() -> None:
    events = [
        user_event("I want to leave a rating", "rate"),
        action_event("feedback_form"),
        slot_event("csat_score", "I want to leave a rating"),
    ]
    tracker = make_tracker("csat-activation", events, slots={"csat_score": "I want to leave a rating"})
    slots = slot_values(await ValidateFeedbackForm().run(CollectingDispatcher(), tracker, DOMAIN))
    assert slots["csat_score"] is None and slots["form_hint"] is None
    (question,) = render_response("utter_ask_csat_score", slots)
    assert question == "How would you rate this support experience from 1 to 5?"


# --- storing the ratings (CSAT and CES) ---------------------------------------------------------------------


def _feedback_tracker(
    sender_id: str,
    ticket_id: str | None,
    csat: Any = None,
    ces: Any = None,
    *,
    message_id: str | None = None,
    form: str = "feedback_form",
    topic: str | None = None,
):
    events = [
        user_event("the app keeps crashing", "report_problem", channel="socketio"),
        user_event("jane@startup.io", "inform", channel="socketio"),
        {"event": "active_loop", "name": form},
        user_event("★★★★", "rate", channel="socketio"),
        user_event("6", "rate", channel="socketio", message_id=message_id),
        {"event": "active_loop", "name": None},
    ]
    slots = {"ticket_id": ticket_id, "csat_score": csat, "ces_score": ces, "feedback_topic": topic}
    return make_tracker(sender_id, events, slots=slots)


def _feedback_of(backend: RunningBackend, **query: Any) -> list[dict[str, Any]]:
    params = "&".join(f"{name}={quote(str(value))}" for name, value in query.items())
    return backend.get(f"/api/feedback?{params}&limit=100")["items"]


def _conversation_id(backend: RunningBackend, sender_id: str, channel: str) -> int:
    """The backend's id of the conversation (sender_id, channel) (an upsert: it exists already here)."""
    return int(backend.post("/api/conversations", {"sender_id": sender_id, "channel": channel})["id"])


def _feedback_of_conversation(backend: RunningBackend, sender_id: str, channel: str) -> list[dict[str, Any]]:
    conversation_id = _conversation_id(backend, sender_id, channel)
    return [item for item in _feedback_of(backend) if item["conversation_id"] == conversation_id]


async def test_csat_and_ces_are_stored_with_channel_intent_resolver_and_ticket(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    ticket_id = (await create_ticket(sender_id))["ticket_id"]
    tracker = _feedback_tracker(sender_id, ticket_id, 4.0, 6.0, message_id=f"{sender_id}-rating")
    events, dispatcher = await run_action(ActionRecordFeedback(), tracker)
    slots = slot_values(events)
    assert slots["feedback_outcome"] == "saved"
    # the round is over: a later rating question starts afresh
    assert slots["csat_score"] is None and slots["ces_score"] is None and slots["feedback_topic"] is None
    assert dispatcher.messages == []

    stored = {item["kind"]: item for item in _feedback_of(backend, ticket_id=ticket_id)}
    assert set(stored) == {"csat", "ces"}
    assert stored["csat"]["score"] == 4 and stored["ces"]["score"] == 6
    for feedback in stored.values():
        assert feedback["channel"] == "socketio"
        assert feedback["intent"] == "report_problem"
        assert feedback["resolver"] == "bot"
        assert feedback["ticket_id"] == int(ticket_id)
        assert feedback["conversation_id"] is not None

    # Rasa running the action again for the same message stores no second rating of either kind
    await run_action(
        ActionRecordFeedback(),
        _feedback_tracker(sender_id, ticket_id, 4.0, 6.0, message_id=f"{sender_id}-rating"),
    )
    assert len(_feedback_of(backend, ticket_id=ticket_id)) == 2
    (told,) = render_response("utter_feedback_thanks", slots)
    assert "thanks" in told.lower()


async def test_csat_alone_is_stored_when_the_customer_stops_before_ces(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    ticket_id = (await create_ticket(sender_id))["ticket_id"]
    events, _ = await run_action(ActionRecordFeedback(), _feedback_tracker(sender_id, ticket_id, 1))
    assert slot_values(events)["feedback_outcome"] == "saved_low_csat"  # a person is offered
    (feedback,) = _feedback_of(backend, ticket_id=ticket_id)
    assert feedback["kind"] == "csat" and feedback["score"] == 1


@pytest.mark.parametrize(
    ("csat", "ces", "outcome"), [(2, 7, "saved_low_csat"), (3, 1, "saved"), (None, 1, "saved")]
)
async def test_a_csat_of_1_or_2_offers_a_person(
    backend: RunningBackend, backend_url: str, sender_id: str, csat: int | None, ces: int, outcome: str
) -> None:
    ticket_id = (await create_ticket(sender_id))["ticket_id"]
    events, _ = await run_action(ActionRecordFeedback(), _feedback_tracker(sender_id, ticket_id, csat, ces))
    assert slot_values(events)["feedback_outcome"] == outcome
    (offer,) = render_response("utter_offer_human_low_csat", {})
    assert "a person from our support team" in offer
    buttons = DOMAIN["responses"]["utter_offer_human_low_csat"][0]["buttons"]
    assert [button["payload"] for button in buttons] == ["/affirm", "/deny"]


async def test_a_low_csat_kept_for_later_still_offers_a_person(backend_down: str, sender_id: str) -> None:
    events, _ = await run_action(ActionRecordFeedback(), _feedback_tracker(sender_id, None, 1, 1))
    assert slot_values(events)["feedback_outcome"] == "queued_low_csat"
    assert len(await default_outbox().pending()) == 2


async def test_the_agents_help_is_rated_with_the_agent_and_the_handoff(
    routing: RoutingContractBackend, sender_id: str
) -> None:
    """After an agent handed the conversation back (actions/handoff.py sets the resolver slots). cs_backend's
    feedback route gains agent_id and handoff_id with the live handoff: the contract server answers it."""
    slots = {"feedback_resolver": "agent", "handoff_agent_id": "7", "handoff_id": "101"}
    tracker = _feedback_tracker(sender_id, "42", 5, 6, message_id=f"{sender_id}-r")
    tracker.slots.update(slots)
    events, _ = await run_action(ActionRecordFeedback(), tracker)
    values = slot_values(events)
    assert values["feedback_outcome"] == "saved"
    # the round about the agent is over: a later rating is the bot's again
    assert values["feedback_resolver"] is None and values["handoff_agent_id"] is None
    assert values["handoff_id"] is None
    bodies = {call.body["kind"]: call.body for call in routing.calls("POST", "/api/feedback")}
    assert set(bodies) == {"csat", "ces"}
    for kind, score in (("csat", 5), ("ces", 6)):
        assert bodies[kind] == {
            "kind": kind,
            "score": score,
            "sender_id": sender_id,
            "channel": "socketio",
            "intent": "report_problem",
            "resolver": "agent",
            "agent_id": 7,
            "handoff_id": 101,
        }  # no ticket_id: the rating is about the agent's help, not the ticket


async def test_the_bots_ratings_name_no_agent(routing: RoutingContractBackend, sender_id: str) -> None:
    tracker = _feedback_tracker(sender_id, "42", 4, None)
    tracker.slots.update({"handoff_agent_id": "7", "handoff_id": "101"})  # left from an earlier handoff
    await run_action(ActionRecordFeedback(), tracker)
    (call,) = routing.calls("POST", "/api/feedback")
    assert call.body["resolver"] == "bot" and call.body["ticket_id"] == 42
    assert "agent_id" not in call.body and "handoff_id" not in call.body


async def test_nothing_answered_is_skipped(backend: RunningBackend, backend_url: str, sender_id: str) -> None:
    events, _ = await run_action(ActionRecordFeedback(), _feedback_tracker(sender_id, None))
    slots = slot_values(events)
    assert slots["feedback_outcome"] == "skipped"
    (told,) = render_response("utter_feedback_skipped", slots)
    assert "skip" in told


async def test_onboarding_ces_is_attributed_to_onboarding_not_the_ticket(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    ticket_id = (await create_ticket(sender_id))["ticket_id"]
    tracker = _feedback_tracker(
        sender_id, ticket_id, ces="7", form="onboarding_feedback_form", topic="onboarding"
    )
    events, _ = await run_action(ActionRecordFeedback(), tracker)
    slots = slot_values(events)
    assert slots["feedback_outcome"] == "saved" and slots["feedback_topic"] is None
    (feedback,) = _feedback_of_conversation(backend, sender_id, "socketio")
    assert feedback["kind"] == "ces" and feedback["score"] == 7
    assert feedback["intent"] == "onboarding"
    assert feedback["ticket_id"] is None
    assert _feedback_of(backend, ticket_id=ticket_id) == []


async def test_feedback_topic_slot_says_onboarding_when_no_form_is_in_the_events(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    events = [user_event("I've created my first project", "onboarding_step_done"), user_event("6", "rate")]
    tracker = make_tracker(sender_id, events, slots={"ces_score": 6.0, "feedback_topic": "onboarding"})
    assert slot_values((await run_action(ActionRecordFeedback(), tracker))[0])["feedback_outcome"] == "saved"
    (feedback,) = _feedback_of_conversation(backend, sender_id, "rest")
    assert (feedback["kind"], feedback["score"], feedback["intent"]) == ("ces", 6, "onboarding")


async def test_a_stale_onboarding_topic_does_not_capture_ticket_feedback(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    ticket_id = (await create_ticket(sender_id))["ticket_id"]
    tracker = _feedback_tracker(sender_id, ticket_id, 5, 7, topic="onboarding")  # feedback_form ran last
    assert slot_values((await run_action(ActionRecordFeedback(), tracker))[0])["feedback_outcome"] == "saved"
    assert {item["intent"] for item in _feedback_of(backend, ticket_id=ticket_id)} == {"report_problem"}


async def test_csat_for_a_vanished_ticket_is_still_stored(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    events, _ = await run_action(ActionRecordFeedback(), _feedback_tracker(sender_id, "99999999", 5, 7))
    assert slot_values(events)["feedback_outcome"] == "saved"


# --- backend down, or breaking its contract -----------------------------------------------------------------


async def test_backend_down_feedback_is_kept_and_told_so(backend_down: str, sender_id: str) -> None:
    slots = slot_values(
        (await run_action(ActionRecordFeedback(), _feedback_tracker(sender_id, "3", 4, 5)))[0]
    )
    assert slots["feedback_outcome"] == "queued"
    assert slots["csat_score"] is None and slots["ces_score"] is None  # the round is over
    (told,) = render_response("utter_feedback_queued", slots)
    assert "saved and will reach our team shortly" in told
    kept = [json.loads(entry.body) for entry in await default_outbox().pending()]
    assert [(body["kind"], body["score"], body["ticket_id"]) for body in kept] == [
        ("csat", 4, 3),
        ("ces", 5, 3),
    ]


async def test_feedback_not_confirmed_nor_kept_is_not_claimed_either_way(
    backend_down: str, sender_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv(OUTBOX_PATH_ENV, str(tmp_path / "not-a-folder" / "outbox.db"))
    slots = slot_values(
        (await run_action(ActionRecordFeedback(), _feedback_tracker(sender_id, "3", 4, 5)))[0]
    )
    assert slots["feedback_outcome"] == "unavailable"
    (told,) = render_response("utter_feedback_not_saved", slots)
    assert "couldn't confirm that your rating reached it" in told


async def test_a_feedback_answer_that_breaks_the_contract_is_kept_to_be_confirmed(
    monkeypatch: pytest.MonkeyPatch, sender_id: str
) -> None:
    # An answer nothing can be read from: the rating is kept and sent again under its key until confirmed.
    async with backend_breaking_its_contract(monkeypatch):
        events, _ = await run_action(ActionRecordFeedback(), _feedback_tracker(sender_id, None, 4, 5))
    assert slot_values(events)["feedback_outcome"] == "queued"
    assert len(await default_outbox().pending()) == 2
