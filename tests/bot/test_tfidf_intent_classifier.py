"""bot/components/tfidf_intent_classifier.py: trains, ranks intents, survives persist/load, refuses a foreign
scikit-learn version."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.tfidf_intent_classifier import MODEL_FILE, IncompatibleModelError, TfidfIntentClassifier

EXAMPLES = {
    "greet": ["hi", "hello", "hey there", "good morning", "hello, anyone there?", "hiya"],
    "password_reset": [
        "I forgot my password",
        "reset my password please",
        "how do I change my password",
        "password reset link",
        "I can't remember my password",
        "the password reset email never came",
    ],
    "billing_invoice": [
        "where is my invoice",
        "send me the invoice for March",
        "I need a receipt for my payment",
        "download invoices",
        "my invoice has the wrong VAT number",
        "can I get a copy of last month's invoice",
    ],
}


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


@pytest.fixture
def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name="intent_classifier")


def training_data() -> TrainingData:
    return TrainingData(
        [Message(data={TEXT: text, INTENT: intent}) for intent, texts in EXAMPLES.items() for text in texts]
    )


def trained(storage: LocalModelStorage, context: ExecutionContext, **config: object) -> TfidfIntentClassifier:
    classifier = TfidfIntentClassifier.create(
        {**TfidfIntentClassifier.get_default_config(), **config},
        storage,
        Resource("intent_classifier"),
        context,
    )
    classifier.train(training_data())
    return classifier


def classify(classifier: TfidfIntentClassifier, text: str) -> Message:
    message = Message(data={TEXT: text})
    classifier.process([message])
    return message


def test_predicts_the_intent_with_a_sorted_ranking(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    message = classify(trained(storage, context), "I forgot my password again")

    assert message.get(INTENT)["name"] == "password_reset"
    ranking = message.get(INTENT_RANKING_KEY)
    assert [entry["name"] for entry in ranking][0] == "password_reset"
    confidences = [entry["confidence"] for entry in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert message.get(INTENT)["confidence"] == confidences[0]


def test_ranking_is_cut_at_ranking_length(storage: LocalModelStorage, context: ExecutionContext) -> None:
    message = classify(trained(storage, context, ranking_length=2), "send me my invoice")

    assert len(message.get(INTENT_RANKING_KEY)) == 2


def test_a_message_without_text_is_left_alone(storage: LocalModelStorage, context: ExecutionContext) -> None:
    message = classify(trained(storage, context), "")

    assert message.get(INTENT) is None


def test_loaded_model_predicts_like_the_trained_one(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    original = trained(storage, context)

    loaded = TfidfIntentClassifier.load(
        TfidfIntentClassifier.get_default_config(), storage, Resource("intent_classifier"), context
    )

    for text in ("hello!", "where's my receipt", "password help"):
        assert classify(loaded, text).get(INTENT_RANKING_KEY) == classify(original, text).get(
            INTENT_RANKING_KEY
        )


def test_a_model_from_another_scikit_learn_version_is_refused(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    trained(storage, context)
    with storage.read_from(Resource("intent_classifier")) as directory:
        stored = joblib.load(directory / MODEL_FILE)
        joblib.dump({**stored, "sklearn_version": "0.0.1"}, directory / MODEL_FILE)

    with pytest.raises(IncompatibleModelError, match="retrain"):
        TfidfIntentClassifier.load(
            TfidfIntentClassifier.get_default_config(), storage, Resource("intent_classifier"), context
        )


def test_training_without_two_intents_predicts_nothing(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    classifier = TfidfIntentClassifier.create(
        TfidfIntentClassifier.get_default_config(), storage, Resource("intent_classifier"), context
    )
    classifier.train(TrainingData([Message(data={TEXT: "hi", INTENT: "greet"})]))

    assert classify(classifier, "hi").get(INTENT) is None
    loaded = TfidfIntentClassifier.load(
        TfidfIntentClassifier.get_default_config(), storage, Resource("intent_classifier"), context
    )
    assert classify(loaded, "hi").get(INTENT) is None
