"""The helpers the action modules share (actions/common.py): reading the tracker, idempotency keys."""

from __future__ import annotations

import pytest
from action_test_support import action_event, make_tracker, slot_event, user_event

from actions.common import (
    conversation_channel,
    human_time,
    make_idempotency_key,
    message_id,
    stale_hint_after_interruption,
    topic_intent,
    triggering_event_marker,
    validated_an_answer,
    write_key,
)

# --- idempotency keys ---------------------------------------------------------------------------------------


def test_the_same_write_caused_by_the_same_message_has_the_same_key() -> None:
    key = make_idempotency_key("ticket", "sender-1", "msg:abc")
    assert key == make_idempotency_key("ticket", "sender-1", "msg:abc")
    assert key.startswith("rasa-ticket-") and key.isascii() and len(key) <= 200


@pytest.mark.parametrize(
    ("kind", "sender_id", "marker"),
    [
        ("feedback", "sender-1", "msg:abc"),
        ("ticket", "sender-2", "msg:abc"),
        ("ticket", "sender-1", "msg:def"),
    ],
)
def test_another_kind_conversation_or_message_has_another_key(kind: str, sender_id: str, marker: str) -> None:
    assert make_idempotency_key(kind, sender_id, marker) != make_idempotency_key(
        "ticket", "sender-1", "msg:abc"
    )


def test_any_sender_id_makes_a_short_ascii_key() -> None:
    key = make_idempotency_key("ticket", "ü" * 500 + " \n\x1f", "msg:1")
    assert key.isascii() and key.isprintable() and len(key) <= 200


def test_write_key_is_per_kind_and_user_message() -> None:
    first = make_tracker("s", [user_event("hi", "greet", message_id="m1")])
    rerun = make_tracker("s", [user_event("hi", "greet", message_id="m1")])
    later = make_tracker("s", [user_event("hi", "greet", message_id="m1"), user_event("again", "greet")])
    assert write_key("ticket", first) == write_key("ticket", rerun)
    assert write_key("ticket", first) != write_key("handoff", first)
    assert write_key("ticket", first) != write_key("ticket", later)


def test_the_triggering_message_is_its_id_else_its_timestamp() -> None:
    event = user_event("hi", "greet", message_id="m1")
    assert message_id(event) == "m1"
    assert triggering_event_marker(make_tracker("s", [event])) == "msg:m1"

    in_parse_data = dict(event, message_id=None)
    assert message_id(in_parse_data) == "m1"

    without_id = dict(event, message_id=None, parse_data={}, timestamp=1700000000.5)
    assert message_id(without_id) is None
    assert triggering_event_marker(make_tracker("s", [without_id])) == "ts:1700000000.5"
    assert triggering_event_marker(make_tracker("s", [])) == "no-user-message"


# --- reading the tracker ------------------------------------------------------------------------------------


def test_the_conversation_channel_is_the_latest_input_channel_else_api() -> None:
    assert (
        conversation_channel(make_tracker("s", [user_event("hi", "greet", channel="socketio")])) == "socketio"
    )
    without = user_event("hi", "greet")
    without["input_channel"] = None
    assert conversation_channel(make_tracker("s", [without])) == "api"


def test_the_topic_is_the_latest_intent_that_says_what_the_conversation_is_about() -> None:
    events = [
        user_event("my exports are empty", "report_problem"),
        user_event("jane@startup.io", "inform"),
        user_event("4", "rate"),
    ]
    assert topic_intent(make_tracker("s", events)) == "report_problem"
    assert topic_intent(make_tracker("s", [user_event("hello", "greet")])) is None
    # cs_backend's notifications are not the customer's topic
    agent = user_event("EXTERNAL: EXTERNAL_handoff_ended", "EXTERNAL_handoff_ended")
    assert topic_intent(make_tracker("s", [*events, agent])) == "report_problem"


def test_a_stale_hint_is_one_left_from_before_a_digression() -> None:
    resumed = [
        action_event("ticket_form"),
        action_event("action_listen"),
        user_event("are you a bot?", "bot_challenge"),
        action_event("utter_iamabot"),
        action_event("ticket_form"),
    ]
    asked_again = [action_event("ticket_form"), action_event("action_listen"), action_event("ticket_form")]
    hint = {"form_hint": "email_invalid"}
    assert stale_hint_after_interruption(make_tracker("s", resumed, slots=hint), "ticket_form")
    assert not stale_hint_after_interruption(make_tracker("s", resumed), "ticket_form")
    assert not stale_hint_after_interruption(make_tracker("s", asked_again, slots=hint), "ticket_form")


def test_an_answer_was_validated_when_a_slot_besides_requested_slot_is_set() -> None:
    assert validated_an_answer([slot_event("requested_slot", "email"), slot_event("email", None)])
    assert not validated_an_answer([slot_event("requested_slot", "email"), action_event("ticket_form")])


@pytest.mark.parametrize(
    ("timestamp", "shown"),
    [
        ("2026-11-22T07:30:12.345+00:00", "22 Nov 2026, 07:30 UTC"),
        ("2026-11-22T08:30:12+01:00", "22 Nov 2026, 07:30 UTC"),
        ("2026-11-22T07:30:12Z", "22 Nov 2026, 07:30 UTC"),
        ("2026-11-22T07:30:12", "22 Nov 2026, 07:30 UTC"),
        ("", "recently"),
        ("yesterday", "yesterday"),
    ],
)
def test_human_time(timestamp: str, shown: str) -> None:
    assert human_time(timestamp) == shown


@pytest.mark.parametrize(
    ("timestamp", "shown"),
    [
        ("2026-11-22T08:30:12+01:00", "2026年11月22日 07:30（UTC）"),
        ("2026-01-05T23:05:00Z", "2026年1月5日 23:05（UTC）"),
        ("", "最近"),
        ("yesterday", "yesterday"),
    ],
)
def test_human_time_in_chinese(timestamp: str, shown: str) -> None:
    assert human_time(timestamp, "zh") == shown
