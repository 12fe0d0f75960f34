"""A turn that keeps predicting actions without listening is ended with an apology, before Rasa's circuit
breaker ends it silently and for good.

Rasa 3.6 predicts up to MAX_NUMBER_OF_PREDICTIONS (10) actions after a message, then stops ("Circuit breaker
tripped") without logging `action_listen`. It counts the actions back to the latest `action_listen` or
`action_session_start`, across user messages, so a conversation that tripped it once trips it again at every
later message: the customer never gets another answer, even after the cause is gone. The usual cause is the
action server being down: a custom action that fails leaves its events out (no `UserUtteranceReverted` from
the fallback, no `action_listen` from the session start), and the policies predict the failing action again.

This policy watches that count. When a turn has run `max_actions` actions, it predicts `utter_response` (a
response Rasa says itself, with no action server: "something went wrong, please send it again"), then
`action_listen`, which ends the turn and resets the count: the next message is handled normally. It does the
same right after a custom `action_session_start` that failed, where the other policies, facing a state no
story has, would otherwise listen without a word. It predicts
nothing otherwise, and wins when it does (confidence 1, priority above RulePolicy's, and not based on the
user's message, so a form's own loop prediction cannot outrank it).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.constants import POLICY_PRIORITY, RULE_POLICY_PRIORITY
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

MAX_ACTIONS = "max_actions"
UTTER_RESPONSE = "utter_response"


def session_start_failed(tracker: DialogueStateTracker) -> bool:
    """The latest action is `action_session_start` and no `SessionStarted` follows it: the custom session
    start failed (it always returns one), so the message after it would get no answer at all."""
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            return False
        if isinstance(event, ActionExecuted) and event.action_name:
            return event.action_name == ACTION_SESSION_START_NAME
    return False


def actions_this_turn(tracker: DialogueStateTracker) -> List[Text]:
    """The actions run since the latest `action_listen` or `action_session_start`, newest first: what Rasa's
    circuit breaker counts (MessageProcessor.is_action_limit_reached)."""
    actions: List[Text] = []
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted) and event.action_name:
            if event.action_name in (ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME):
                break
            actions.append(event.action_name)
    return actions


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class StuckTurnPolicy(Policy):
    """Ends a turn of `max_actions` actions with `utter_response` and `action_listen` (module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Below Rasa's 10, leaving room for the apology; no turn of this assistant's stories and rules
            # runs more than 5 actions.
            MAX_ACTIONS: 7,
            UTTER_RESPONSE: "utter_turn_failed",
            POLICY_PRIORITY: RULE_POLICY_PRIORITY + 1,
        }

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        # Nothing is learnt: the rule is the count. The resource exists so that the policy loads like others.
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    def next_action(self, tracker: DialogueStateTracker) -> Optional[Text]:
        """`utter_response` once a turn reaches `max_actions`, then `action_listen`; None otherwise."""
        actions = actions_this_turn(tracker)
        if actions and actions[0] == self.config[UTTER_RESPONSE]:
            return ACTION_LISTEN_NAME
        if len(actions) >= self.config[MAX_ACTIONS] or session_start_failed(tracker):
            return str(self.config[UTTER_RESPONSE])
        return None

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = self.next_action(tracker)
        if action is None:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, is_no_user_prediction=True)
