"""Cancellation and retention (actions/retention.py): the form's validation, and recording the churn signal
against a real running cs_backend (see conftest.py)."""

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
    entity,
    make_tracker,
    render_response,
    slot_event,
    slot_values,
    user_event,
)
from conftest import RunningBackend
from rasa_sdk.executor import CollectingDispatcher

from actions.api.outbox import OUTBOX_PATH_ENV, default_outbox
from actions.retention import ActionRecordChurnSignal, ValidateCancellationForm, classify_cancel_reason

# --- the reason, from a button or from free text ------------------------------------------------------------


@pytest.mark.parametrize("value", ["too_expensive", "missing_feature", "not_using", "switching", "other"])
def test_button_values_are_kept(value: str) -> None:
    assert classify_cancel_reason(value) == value
    assert classify_cancel_reason(f'/inform{{"cancel_reason": "{value}"}}') == value


@pytest.mark.parametrize(
    "text, reason",
    [
        ("it's way too expensive for us", "too_expensive"),
        ("the price went up again", "too_expensive"),
        ("costs too much", "too_expensive"),
        ("we have no budget left this year", "too_expensive"),
        ("Pricing", "too_expensive"),
        ("a feature we need is missing", "missing_feature"),
        ("it doesn't have gantt charts", "missing_feature"),
        ("we need time tracking", "missing_feature"),
        ("lacks a proper calendar", "missing_feature"),
        ("we're not using it anymore", "not_using"),
        ("we don't use it much", "not_using"),
        ("rarely log in", "not_using"),
        ("no time to set it up", "not_using"),
        ("we don't need it anymore", "not_using"),
        ("we're switching to Asana", "switching"),
        ("moving to a competitor", "switching"),
        ("the team picked another tool", "switching"),
        ("found a better alternative", "switching"),
        ("we're moving to a tool that has the features we need", "switching"),
        ("no", "other"),
        ("company closed down", "other"),
        ("rather not say", "other"),
    ],
)
def test_free_text_is_classified_by_keywords(text: str, reason: str) -> None:
    assert classify_cancel_reason(text) == reason


def test_empty_answers_are_not_a_reason() -> None:
    assert classify_cancel_reason(None) is None
    assert classify_cancel_reason("   ") is None
    assert classify_cancel_reason('/inform{"cancel_reason": "bogus"}') == "other"


# --- validate_cancellation_form -----------------------------------------------------------------------------


async def _validate(
    candidates: dict[str, Any],
    *,
    requested: str | None,
    text: str = "x",
    intent: str = "inform",
    **slots: Any,
) -> dict[str, Any]:
    events = [
        user_event(text, intent),
        *([slot_event("requested_slot", requested)] if requested else []),
        action_event("cancellation_form"),
        *[slot_event(name, value) for name, value in candidates.items()],
    ]
    current = {**slots, "requested_slot": requested, **candidates}
    tracker = make_tracker(
        "cancel-form", events, slots=current, active_loop="cancellation_form" if requested else None
    )
    dispatcher = CollectingDispatcher()
    result = slot_values(await ValidateCancellationForm().run(dispatcher, tracker, DOMAIN))
    assert dispatcher.messages == []
    return result


async def test_free_text_reason_is_classified_and_the_matching_offer_is_asked() -> None:
    result = await _validate({"cancel_reason": "honestly it's too pricey"}, requested="cancel_reason")
    assert result == {"cancel_reason": "too_expensive"}
    (asked,) = render_response("utter_ask_retention_accepted", result)
    assert "50% off" in asked


async def test_button_reason_is_kept() -> None:
    result = await _validate({"cancel_reason": "not_using"}, requested="cancel_reason")
    assert result == {"cancel_reason": "not_using"}
    (asked,) = render_response("utter_ask_retention_accepted", result)
    assert "pause" in asked


async def test_yes_and_no_to_the_offer_are_kept() -> None:
    assert await _validate(
        {"retention_accepted": True}, requested="retention_accepted", cancel_reason="other"
    ) == {"retention_accepted": True}
    assert await _validate(
        {"retention_accepted": False}, requested="retention_accepted", cancel_reason="other"
    ) == {"retention_accepted": False}


async def test_a_reason_left_from_an_earlier_cancellation_is_dropped_at_activation() -> None:
    result = await _validate(
        {"cancel_reason": "too_expensive"},
        requested=None,
        text="cancel my plan",
        intent="cancel_subscription",
    )
    assert result == {"cancel_reason": None}  # the form asks again


# --- action_record_churn_signal -----------------------------------------------------------------------------


def _finished_form(sender_id: str, reason: str | None, accepted: bool | None, *, channel: str = "rest"):
    answer = "yes" if accepted else "no"
    events = [
        user_event("I want to cancel my subscription", "cancel_subscription", channel=channel),
        user_event(
            reason or "hmm", "inform", [entity("cancel_reason", reason)] if reason else [], channel=channel
        ),
        user_event(answer, "affirm" if accepted else "deny", channel=channel),
    ]
    return make_tracker(sender_id, events, slots={"cancel_reason": reason, "retention_accepted": accepted})


async def _record(tracker: Any) -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    events = await ActionRecordChurnSignal().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []
    return slot_values(events)


def _signals(backend: RunningBackend, sender_id: str, channel: str = "rest") -> list[dict[str, Any]]:
    progress = backend.get(f"/api/onboarding/progress?sender_id={quote(sender_id)}&channel={quote(channel)}")
    page = backend.get(f"/api/churn/signals?customer_id={progress['customer_id']}&limit=100")
    return page["items"]


async def test_accepted_offer_is_recorded_as_retained_and_thanked_for_the_offer(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await _record(_finished_form(sender_id, "missing_feature", True))

    (signal,) = _signals(backend, sender_id)
    assert signal["kind"] == "cancel_request"
    assert signal["reason"] == "missing_feature"
    assert signal["outcome"] == "retained"
    assert signal["intent"] == "cancel_subscription"

    assert slots == {
        "churn_outcome": "retained",
        "cancel_reason": "missing_feature",
        "retention_accepted": None,
    }
    (thanks,) = render_response("utter_retention_thanks", slots)
    assert "product specialist" in thanks


async def test_declined_offer_is_recorded_as_cancelling_and_the_slots_cleared(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await _record(_finished_form(sender_id, "too_expensive", False, channel="socketio"))
    (signal,) = _signals(backend, sender_id, "socketio")
    assert (signal["reason"], signal["outcome"]) == ("too_expensive", "cancelling")
    assert slots == {"churn_outcome": "cancelling", "cancel_reason": None, "retention_accepted": None}
    assert render_response("utter_how_to_cancel", slots)


async def test_stopping_half_way_is_recorded_as_cancelling_without_a_reason(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    events = [user_event("cancel my account", "cancel_subscription"), user_event("stop", "stop")]
    slots = await _record(make_tracker(sender_id, events))
    (signal,) = _signals(backend, sender_id)
    assert (signal["reason"], signal["outcome"]) == (None, "cancelling")
    assert slots["churn_outcome"] == "cancelling"


async def test_rerunning_for_the_same_message_records_one_signal(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    tracker = _finished_form(sender_id, "switching", False)
    await _record(tracker)
    await _record(tracker)
    assert len(_signals(backend, sender_id)) == 1


async def test_backend_down_keeps_the_signal_and_tells_the_outcome(backend_down: str, sender_id: str) -> None:
    slots = await _record(_finished_form(sender_id, "not_using", True))
    assert slots == {"churn_outcome": "retained", "cancel_reason": "not_using", "retention_accepted": None}
    (told,) = render_response("utter_retention_thanks", slots)
    assert "noted the pause" in told
    (entry,) = await default_outbox().pending()
    body = json.loads(entry.body)
    assert (entry.path, body["kind"], body["reason"], body["outcome"]) == (
        "/api/churn/signals",
        "cancel_request",
        "not_using",
        "retained",
    )


async def test_a_signal_neither_confirmed_nor_kept_claims_nothing(
    backend_down: str, sender_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv(OUTBOX_PATH_ENV, str(tmp_path / "not-a-folder" / "outbox.db"))
    slots = await _record(_finished_form(sender_id, "not_using", True))
    assert slots == {"churn_outcome": "unavailable", "cancel_reason": None, "retention_accepted": None}
    (told,) = render_response("utter_churn_not_saved", slots)
    assert "couldn't confirm" in told and "nothing was recorded" not in told


async def test_an_answer_that_breaks_the_contract_is_kept_to_be_confirmed(
    monkeypatch: pytest.MonkeyPatch, sender_id: str
) -> None:
    async with backend_breaking_its_contract(monkeypatch):
        slots = await _record(_finished_form(sender_id, "too_expensive", False))
    assert slots == {"churn_outcome": "cancelling", "cancel_reason": None, "retention_accepted": None}
    assert len(await default_outbox().pending()) == 1
