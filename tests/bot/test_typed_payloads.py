"""bot/channels/typed_payloads.py: which typed payloads Rasa may read as intents, checked against Rasa's own
parser of "/intent{...}" messages."""

from __future__ import annotations

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, UserUttered
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.training_data.message import Message

from bot.channels.typed_payloads import (
    as_ordinary_text,
    is_typed_payload,
    offered_payloads,
    payload_accepted,
    payload_intent,
)

PRIORITY_BUTTONS = [
    {"title": "Low", "payload": '/inform{"priority": "low"}'},
    {"title": "Urgent", "payload": '/inform{"priority": "urgent"}'},
]


def buttons(*payloads: str) -> dict[str, list[dict[str, str]]]:
    return {"buttons": [{"title": payload, "payload": payload} for payload in payloads]}


def test_a_typed_payload_is_what_rasa_would_read_as_an_intent() -> None:
    assert is_typed_payload("/greet")
    assert is_typed_payload('  /rate{"csat": 99}')
    assert not is_typed_payload("greet /rate")
    assert not is_typed_payload("")


def test_the_intent_a_payload_names() -> None:
    assert payload_intent('/rate{"csat": 99}') == "rate"
    assert payload_intent("/ EXTERNAL_onboarding_nudge@0.9") == "EXTERNAL_onboarding_nudge"
    assert payload_intent("/") is None
    assert payload_intent('/{"csat": 5}') is None


def test_only_the_buttons_of_the_bots_latest_turn_are_offered() -> None:
    events: list[Event] = [
        UserUttered("hi"),
        BotUttered("Which priority?", data={"buttons": PRIORITY_BUTTONS}),
        UserUttered("it's urgent"),
        ActionExecuted("utter_ask_email"),
        BotUttered("Your email?"),
        BotUttered("Or press", data=buttons("/deny")),
        BotUttered("or", data=buttons("/affirm")),
    ]
    assert offered_payloads(events) == {"/deny", "/affirm"}
    assert offered_payloads([*events, UserUttered("me@example.com")]) == frozenset()
    assert offered_payloads([]) == frozenset()


def test_the_buttons_after_an_external_event_are_offered() -> None:
    nudge = UserUttered("EXTERNAL: EXTERNAL_onboarding_nudge", {"name": "EXTERNAL_onboarding_nudge"})
    offer = BotUttered("Hi again", data=buttons("/onboarding_step_done"))
    assert offered_payloads([SessionStarted(), nudge, offer]) == {"/onboarding_step_done"}


def test_buttons_without_a_text_payload_offer_nothing() -> None:
    message = BotUttered("?", data={"buttons": [{"title": "x"}, {"title": "y", "payload": 3}]})
    assert offered_payloads([message]) == frozenset()


def test_an_offered_payload_is_accepted_exactly_as_offered() -> None:
    offered = offered_payloads([BotUttered("Which priority?", data={"buttons": PRIORITY_BUTTONS})])
    assert payload_accepted('/inform{"priority": "urgent"}', offered, trusted=False)
    assert payload_accepted(' /inform{"priority": "urgent"} ', offered, trusted=False)
    assert not payload_accepted('/inform{"priority": "high"}', offered, trusted=False)
    assert not payload_accepted('/inform{"priority": "urgent", "email": "x@example.com"}', offered, False)
    assert not payload_accepted('/rate{"csat": 99}', offered, trusted=False)


def test_a_trusted_channel_may_type_any_payload() -> None:
    assert payload_accepted('/rate{"csat": 5}', frozenset(), trusted=True)
    assert payload_accepted("/session_start", frozenset(), trusted=True)


@pytest.mark.parametrize("trusted", [False, True])
def test_an_external_intent_is_never_accepted_typed_not_even_as_an_offered_button(trusted: bool) -> None:
    for payload in ("/EXTERNAL_onboarding_nudge", '/ EXTERNAL_onboarding_nudge{"onboarding_step": "x"}'):
        assert not payload_accepted(payload, {payload.strip()}, trusted)


def test_ordinary_text_loses_every_leading_slash() -> None:
    assert as_ordinary_text('/rate{"csat": 99}') == 'rate{"csat": 99}'
    assert as_ordinary_text("//EXTERNAL_onboarding_nudge") == "EXTERNAL_onboarding_nudge"
    assert as_ordinary_text(" / /greet now") == "greet now"
    assert as_ordinary_text("/") == ""


@pytest.mark.parametrize(
    "typed", ['/rate{"csat": 99}', "/EXTERNAL_onboarding_nudge", " / greet", '/inform{"email": "a@b.co"}']
)
def test_rasa_reads_the_payload_as_an_intent_and_the_ordinary_text_as_text(typed: str) -> None:
    domain = Domain.from_dict(
        {"intents": ["rate", "greet", "inform", "EXTERNAL_onboarding_nudge"], "entities": ["csat", "email"]}
    )
    read_as_payload = YAMLStoryReader.unpack_regex_message(Message({"text": typed.strip()}), domain)
    assert read_as_payload.get("intent")["name"] == payload_intent(typed)
    unpacked = YAMLStoryReader.unpack_regex_message(Message({"text": as_ordinary_text(typed)}), domain)
    assert unpacked.get("intent") is None and unpacked.get("entities") is None
