"""bot/components/stuck_turn_policy.py: a turn of failing actions ends with an apology and action_listen,
before Rasa's circuit breaker would leave the conversation unable to answer again."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.components.stuck_turn_policy import StuckTurnPolicy, actions_this_turn, session_start_failed

REPO_ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(REPO_ROOT / "domain.yml"))
BUG = UserUttered("I found a bug", {"name": "report_problem", "confidence": 0.98})


@pytest.fixture
def policy(tmp_path: Path) -> StuckTurnPolicy:
    context = ExecutionContext(GraphSchema({}), "stuck-turn-test")
    created = StuckTurnPolicy.create(
        StuckTurnPolicy.get_default_config(), LocalModelStorage(tmp_path), Resource("stuck"), context
    )
    assert isinstance(created, StuckTurnPolicy)
    return created


def tracker(*events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("sender", list(events), slots=DOMAIN.slots)


def predicted(policy: StuckTurnPolicy, conversation: DialogueStateTracker) -> str | None:
    prediction = policy.predict_action_probabilities(conversation, DOMAIN)
    if prediction.max_confidence == 0:
        return None
    assert prediction.max_confidence == 1.0 and prediction.is_no_user_prediction
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


def test_a_normal_turn_gets_no_prediction(policy: StuckTurnPolicy) -> None:
    started = [
        ActionExecuted(ACTION_SESSION_START_NAME),
        SessionStarted(),
        ActionExecuted(ACTION_LISTEN_NAME),
    ]
    assert predicted(policy, tracker(*started, BUG)) is None
    assert predicted(policy, tracker(*started, BUG, ActionExecuted("ticket_form"))) is None


def test_a_session_start_that_failed_then_failing_fallbacks_end_with_the_apology_and_listen(
    policy: StuckTurnPolicy,
) -> None:
    # What a message sent while the action server is down leaves: the session start's events lost (no
    # SessionStarted, no action_listen), then the core fallback predicted again and again, failing each time.
    failing = [ActionExecuted("action_default_fallback")] * 6
    conversation = tracker(ActionExecuted(ACTION_SESSION_START_NAME), BUG, *failing)
    assert predicted(policy, conversation) is None
    conversation.update(ActionExecuted("action_default_fallback"))
    assert predicted(policy, conversation) == "utter_turn_failed"
    conversation.update(ActionExecuted("utter_turn_failed"))
    assert predicted(policy, conversation) == ACTION_LISTEN_NAME
    conversation.update(ActionExecuted(ACTION_LISTEN_NAME))
    # The next message starts a new count: handled by the other policies.
    conversation.update(BUG)
    assert actions_this_turn(conversation) == []
    assert predicted(policy, conversation) is None


def test_the_count_is_rasas_across_user_messages(policy: StuckTurnPolicy) -> None:
    # Rasa's circuit breaker counts back to the latest action_listen, past user messages: so does the policy.
    events = [ActionExecuted(ACTION_LISTEN_NAME), BUG, *[ActionExecuted("ticket_form")] * 4, BUG]
    events += [ActionExecuted("ticket_form")] * 3
    assert actions_this_turn(tracker(*events)) == ["ticket_form"] * 7
    assert predicted(policy, tracker(*events)) == "utter_turn_failed"


def test_the_response_exists_in_both_languages() -> None:
    variants = DOMAIN.responses["utter_turn_failed"]
    assert len(variants) == 2 and any(variant.get("condition") for variant in variants)


def test_a_message_right_after_a_failed_session_start_gets_the_apology(policy: StuckTurnPolicy) -> None:
    failed = tracker(ActionExecuted(ACTION_SESSION_START_NAME), BUG)
    assert session_start_failed(failed)
    assert predicted(policy, failed) == "utter_turn_failed"
    started = tracker(ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), BUG)
    assert not session_start_failed(started)
    assert predicted(policy, started) is None
