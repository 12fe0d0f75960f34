"""The recorded Rasa events and the builders of tests/backend/rasa_events.py agree with each other."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from .rasa_events import (
    RECORDED_SAMPLES,
    RECORDED_SCRIPTS,
    action,
    active_loop,
    bot,
    external_user,
    rejected,
    restart,
    session_started,
    slot,
    user,
    user_featurization,
)


def _shape(value: Any) -> Any:
    """The structure of a JSON value: dict keys (recursively), list element shapes, else the type."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__ if value is not None else None


BUILT = {
    "action": lambda: action("action_session_start", 1.0, "conv-ticket"),
    "session_started": lambda: session_started(1.0, "conv-ticket"),
    "user_featurization": lambda: user_featurization(1.0, "conv-ticket"),
    "bot": lambda: bot("Hi!", 1.0, "conv-ticket", utter_action="utter_greet"),
    "user": lambda: user("greet", "hi", 1.0, "conv-ticket"),
    "active_loop": lambda: active_loop("ticket_form", 1.0, "conv-ticket"),
    "slot": lambda: slot("description", "my app keeps crashing", 1.0, "conv-ticket"),
    "action_execution_rejected": lambda: rejected("csat_form", 1.0, "conv-ticket"),
    "restart": lambda: restart(1.0, "conv-restart"),
    "user_external": lambda: external_user("EXTERNAL_onboarding_nudge", 1.0, "conv-nudged"),
}


@pytest.mark.parametrize("kind", sorted(BUILT))
def test_builders_produce_the_recorded_shape(kind: str) -> None:
    recorded = RECORDED_SAMPLES[kind]
    built = BUILT[kind]()
    if kind == "bot":  # the recorded greeting has buttons; the builder's messages have none
        recorded = {**recorded, "data": {**recorded["data"], "buttons": None}}
    if kind == "user_external":  # the recorded nudge carries an entity
        recorded = {**recorded, "parse_data": {**recorded["parse_data"], "entities": []}}
    assert _shape(built) == _shape(recorded)
    assert list(built) == list(recorded)  # same key order, as json.dumps writes them


def test_recorded_scripts_replay_in_time_order() -> None:
    for script in RECORDED_SCRIPTS.values():
        offsets = [step[1] for step in script]
        assert offsets[0] == 0.0
        # Rasa logs an action after the events it returned were created, so timestamps are only roughly
        # ordered; never by more than a few milliseconds here.
        assert all(later >= earlier - 0.01 for earlier, later in itertools.pairwise(offsets))
