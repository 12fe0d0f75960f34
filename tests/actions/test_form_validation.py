"""The form validation actions (ValidateTicketForm, ValidateFeedbackForm, ValidateOnboardingFeedbackForm), driven like Rasa drives them:
a tracker whose last events are the candidate SlotSets, then the next question rendered from domain.yml."""

from __future__ import annotations

from typing import Any

from action_test_support import (
    DOMAIN,
    action_event,
    entity,
    make_tracker,
    render_response,
    slot_event,
    slot_values,
    user_event,
)
from rasa_sdk.executor import CollectingDispatcher

from actions.feedback import ValidateFeedbackForm, ValidateOnboardingFeedbackForm
from actions.tickets import ValidateTicketForm


async def _validate_ticket(
    text: str, intent: str, candidates: dict[str, Any], *, requested: Any, slots: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Events of validate_ticket_form after the user said `text` and Rasa extracted `candidates`."""
    current = dict(slots or {})
    current["requested_slot"] = requested
    current.update(candidates)
    events = [
        user_event(text, intent),
        slot_event("requested_slot", requested),
        action_event("ticket_form"),
        *[slot_event(name, value) for name, value in candidates.items()],
    ]
    tracker = make_tracker(
        "validation-test", events, slots=current, active_loop="ticket_form" if requested else None
    )
    dispatcher = CollectingDispatcher()
    result = await ValidateTicketForm().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []  # the text comes from the next utter_ask_* response
    assert not any(str(e.get("name", "")).startswith("__hint_") for e in result)
    return result


async def test_invalid_email_is_asked_again_with_a_helpful_message() -> None:
    events = await _validate_ticket(
        "my email is bob at example dot com",
        "inform",
        {"email": "my email is bob at example dot com"},
        requested="email",
        slots={"description": "the dashboard won't load at all"},
    )
    slots = slot_values(events)
    assert slots["email"] is None
    assert slots["form_hint"] == "email_invalid"
    (question,) = render_response("utter_ask_email", slots)
    assert "doesn't look like an email address" in question and "name@yourcompany.com" in question


async def test_valid_email_is_cleaned() -> None:
    events = await _validate_ticket(
        "sure, it's Jane@Startup.IO.", "inform", {"email": "sure, it's Jane@Startup.IO."}, requested="email"
    )
    assert slot_values(events)["email"] == "Jane@startup.io"
    assert slot_values(events)["form_hint"] is None


async def test_too_short_description_is_asked_again() -> None:
    events = await _validate_ticket(
        "it crashes", "report_problem", {"description": "it crashes"}, requested="description"
    )
    slots = slot_values(events)
    assert slots["description"] is None
    assert slots["form_hint"] == "description_too_short"
    (question,) = render_response("utter_ask_description", slots)
    assert "more detail" in question


async def test_urgent_priority_is_inferred_from_the_description() -> None:
    text = "URGENT: the checkout page returns a 500 error for all our customers"
    events = await _validate_ticket(text, "report_problem", {"description": text}, requested="description")
    slots = slot_values(events)
    assert slots["description"] == text
    assert slots["priority"] == "urgent"
    assert slots["form_hint"] == "urgent_inferred"
    (question,) = render_response("utter_ask_email", slots)
    assert "urgent" in question


async def test_not_urgent_description_leaves_priority_to_ask() -> None:
    text = "not urgent, but the avatar upload fails with big images"
    events = await _validate_ticket(text, "report_problem", {"description": text}, requested="description")
    assert "priority" not in slot_values(events)


async def test_priority_is_normalised() -> None:
    events = await _validate_ticket(
        "asap please", "inform", {"priority": "asap please"}, requested="priority"
    )
    assert slot_values(events)["priority"] == "urgent"


async def test_unknown_priority_is_asked_again() -> None:
    events = await _validate_ticket("banana", "inform", {"priority": "banana"}, requested="priority")
    slots = slot_values(events)
    assert slots["priority"] is None and slots["form_hint"] == "priority_invalid"
    (question,) = render_response("utter_ask_priority", slots)
    assert "low, normal, high or urgent" in question


async def test_description_is_prefilled_from_the_opening_message() -> None:
    text = "the app keeps crashing when I upload a CSV file"
    events = await _validate_ticket(text, "report_problem", {}, requested=None)
    slots = slot_values(events)
    assert slots["description"] == text
    assert slots["form_hint"] == "description_prefilled"
    (question,) = render_response("utter_ask_email", slots)
    assert text in question


async def test_generic_opening_message_is_not_used_as_description() -> None:
    events = await _validate_ticket("I want to open a ticket", "report_problem", {}, requested=None)
    assert "description" not in slot_values(events)


async def test_nothing_extracted_returns_no_slots_so_rasa_can_reject_the_form() -> None:
    # e.g. "are you a bot?" while the form asks for the email: the digression rules must take over.
    events = await _validate_ticket("are you a bot?", "bot_challenge", {}, requested="email")
    assert [e for e in events if e.get("event") == "slot" and e.get("name") != "requested_slot"] == []


async def test_priority_entity_in_the_opening_message_is_kept() -> None:
    tracker_events = [
        user_event("urgent: nobody can log in", "report_problem", [entity("priority", "urgent")]),
        slot_event("requested_slot", None),
        action_event("ticket_form"),
        slot_event("priority", "urgent"),
    ]
    tracker = make_tracker("validation-test", tracker_events, slots={"priority": "urgent"})
    events = await ValidateTicketForm().run(CollectingDispatcher(), tracker, DOMAIN)
    assert slot_values(events)["priority"] == "urgent"


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
    events = [
        user_event("hmm", "rate"),
        action_event("feedback_form"),
        action_event("action_listen"),
        user_event("are you a bot?", "bot_challenge"),
        action_event("utter_iamabot"),
        slot_event("requested_slot", "ces_score"),
        action_event("feedback_form"),
    ]
    tracker = make_tracker(
        "resume-feedback",
        events,
        slots={"form_hint": "ces_invalid", "requested_slot": "ces_score"},
        active_loop="feedback_form",
    )
    result = await ValidateFeedbackForm().run(CollectingDispatcher(), tracker, DOMAIN)
    assert slot_values(result) == {"form_hint": None}


async def test_resuming_after_a_digression_drops_the_previous_remark() -> None:
    events = [
        user_event("URGENT: checkout is down for everyone", "report_problem"),
        action_event("ticket_form"),
        action_event("action_listen"),
        user_event("are you a bot?", "bot_challenge"),
        action_event("utter_iamabot"),
        slot_event("requested_slot", "email"),
        action_event("ticket_form"),
    ]
    tracker = make_tracker(
        "resume-test",
        events,
        slots={"form_hint": "urgent_inferred", "requested_slot": "email"},
        active_loop="ticket_form",
    )
    result = await ValidateTicketForm().run(CollectingDispatcher(), tracker, DOMAIN)
    assert slot_values(result) == {"form_hint": None}


async def test_rejected_answer_keeps_no_slot_events_even_with_a_hint_set() -> None:
    events = [
        user_event("URGENT: checkout is down for everyone", "report_problem"),
        action_event("ticket_form"),
        action_event("action_listen"),
        user_event("are you a bot?", "bot_challenge"),
        slot_event("requested_slot", "email"),
        action_event("ticket_form"),
    ]
    tracker = make_tracker(
        "reject-test",
        events,
        slots={"form_hint": "urgent_inferred", "requested_slot": "email"},
        active_loop="ticket_form",
    )
    result = await ValidateTicketForm().run(CollectingDispatcher(), tracker, DOMAIN)
    assert [e for e in result if e.get("event") == "slot" and e.get("name") != "requested_slot"] == []


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
