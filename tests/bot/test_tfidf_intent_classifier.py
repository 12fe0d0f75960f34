"""bot/components/tfidf_intent_classifier.py and intent_pipeline_storage.py: trains, ranks intents, survives
persist/load, refuses a foreign scikit-learn version or storage format, and never unpickles a model file."""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.intent_pipeline_storage import (
    COEFFICIENTS_FILE,
    INTERCEPTS_FILE,
    LEGACY_PICKLE_FILE,
    METADATA_FILE,
    IncompatibleModelError,
    LegacyPickleModelError,
    MalformedModelError,
    idf_file,
)
from bot.components.tfidf_intent_classifier import TfidfIntentClassifier

EXAMPLES = {
    "greet": [
        "hi",
        "hello",
        "hey there",
        "good morning",
        "hello, anyone there?",
        "hiya",
        "привет",
        "grüß dich",
    ],
    "password_reset": [
        "I forgot my password",
        "reset my password please",
        "how do I change my password",
        "password reset link",
        "I can't remember my password",
        "the password reset email never came",
        "я забыл пароль",
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


def loaded(storage: LocalModelStorage, context: ExecutionContext, **config: object) -> TfidfIntentClassifier:
    config = {**TfidfIntentClassifier.get_default_config(), **config}
    return TfidfIntentClassifier.load(config, storage, Resource("intent_classifier"), context)


def stored_files(storage: LocalModelStorage) -> Path:
    with storage.read_from(Resource("intent_classifier")) as directory:
        return Path(directory)


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


# Texts seen in training, partly seen, never seen, and in scripts the training data has little or none of.
PREDICTED_TEXTS = (
    "hello!",
    "where's my receipt",
    "password help",
    "flibbertigibbet quux",
    "привет, я забыл пароль",
    "grüß dich",
    "我忘记了密码",
    "مرحبا",
    "🙂🙂",
)


def assert_ranks_like(
    restored: TfidfIntentClassifier, original: TfidfIntentClassifier, texts: tuple[str, ...]
) -> None:
    for text in texts:
        expected = classify(original, text).get(INTENT_RANKING_KEY)
        ranking = classify(restored, text).get(INTENT_RANKING_KEY)
        assert [entry["name"] for entry in ranking] == [entry["name"] for entry in expected], text
        assert [entry["confidence"] for entry in ranking] == pytest.approx(
            [entry["confidence"] for entry in expected], rel=1e-12, abs=1e-15
        ), text


def test_loaded_model_predicts_like_the_trained_one(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    original = trained(storage, context)

    restored = loaded(storage, context)

    assert_ranks_like(restored, original, PREDICTED_TEXTS)


def test_a_loaded_two_intent_model_predicts_like_the_trained_one(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    # With two intents the logistic regression has a single row of coefficients.
    classifier = TfidfIntentClassifier.create(
        TfidfIntentClassifier.get_default_config(), storage, Resource("intent_classifier"), context
    )
    classifier.train(
        TrainingData(
            [
                Message(data={TEXT: text, INTENT: intent})
                for intent in ("greet", "password_reset")
                for text in EXAMPLES[intent]
            ]
        )
    )

    restored = loaded(storage, context)

    assert_ranks_like(restored, classifier, PREDICTED_TEXTS)


def test_the_model_is_stored_as_json_and_plain_arrays(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    trained(storage, context)
    directory = stored_files(storage)

    array_files = [idf_file("words"), idf_file("chars"), COEFFICIENTS_FILE, INTERCEPTS_FILE]
    assert sorted(path.name for path in directory.iterdir()) == sorted([METADATA_FILE, *array_files])
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    assert metadata["intents"] == sorted(EXAMPLES)
    assert "привет" in metadata["vectorizers"]["words"]["vocabulary"]
    for array_file in array_files:
        assert np.load(directory / array_file, allow_pickle=False).dtype == np.float64


def rewrite_metadata(storage: LocalModelStorage, **changes: object) -> None:
    path = stored_files(storage) / METADATA_FILE
    metadata = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**metadata, **changes}), encoding="utf-8")


def test_a_model_from_another_scikit_learn_version_is_refused(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    trained(storage, context)
    rewrite_metadata(storage, sklearn_version="0.0.1")

    with pytest.raises(IncompatibleModelError, match=r"scikit-learn '0\.0\.1'.*retrain"):
        loaded(storage, context)


def test_a_model_in_another_storage_format_is_refused(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    trained(storage, context)
    rewrite_metadata(storage, format_version=2)

    with pytest.raises(IncompatibleModelError, match="format version 2.*retrain"):
        loaded(storage, context)


def test_a_model_trained_with_other_vectorizer_settings_is_refused(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    trained(storage, context)

    with pytest.raises(MalformedModelError, match="other settings.*retrain"):
        loaded(storage, context, word_ngram_range=[1, 1])


def test_coefficients_of_the_wrong_shape_are_refused(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    trained(storage, context)
    np.save(stored_files(storage) / COEFFICIENTS_FILE, np.zeros((3, 5)), allow_pickle=False)

    with pytest.raises(MalformedModelError, match=rf"{COEFFICIENTS_FILE} holds float64 \(3, 5\).*retrain"):
        loaded(storage, context)


# A model archive is a way in (Rasa's PUT /model, a file someone else could write). The pickles planted below
# run code when unpickled; the loader must never unpickle them.


def leave_marker(path: str) -> None:
    """What the planted pickles call when unpickled; an attacker's would call os.system."""
    Path(path).write_text("a pickle from the model ran", encoding="utf-8")


class RunsCodeWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return leave_marker, (str(self.marker),)


def plant_joblib(path: Path, payload: object) -> None:
    joblib.dump(payload, path)


def plant_object_array(path: Path, payload: object) -> None:
    with path.open("wb") as file:
        np.save(file, np.array([payload], dtype=object), allow_pickle=True)


def plant_pickle(path: Path, payload: object) -> None:
    path.write_bytes(pickle.dumps(payload))


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    marker = tmp_path / "pickle-ran"
    yield marker
    assert not marker.exists(), "a planted pickle ran"


@pytest.mark.parametrize(
    ("plant", "unpickle"),
    [
        (plant_joblib, joblib.load),
        (plant_object_array, lambda path: np.load(path, allow_pickle=True)),
        (plant_pickle, lambda path: pickle.loads(path.read_bytes())),
    ],
)
def test_the_planted_pickles_do_run_code_when_unpickled(
    tmp_path: Path, plant: Callable[[Path, object], None], unpickle: Callable[[Path], object]
) -> None:
    # Proves the payloads are live, so that the tests below cannot pass with a harmless one.
    ran = tmp_path / "ran"
    plant(tmp_path / "planted", RunsCodeWhenUnpickled(ran))

    unpickle(tmp_path / "planted")

    assert ran.exists()


def test_a_model_in_the_old_joblib_format_is_refused_without_unpickling(
    storage: LocalModelStorage, context: ExecutionContext, marker: Path
) -> None:
    classifier = trained(storage, context)
    directory = stored_files(storage)
    for path in directory.iterdir():
        path.unlink()
    # What the previous version stored, with a rider.
    old_model = {
        "sklearn_version": sklearn.__version__,
        "pipeline": classifier.pipeline,
        "rider": RunsCodeWhenUnpickled(marker),
    }
    plant_joblib(directory / LEGACY_PICKLE_FILE, old_model)

    with pytest.raises(
        LegacyPickleModelError, match=rf"{re.escape(LEGACY_PICKLE_FILE)}.*not loaded.*retrain"
    ):
        loaded(storage, context)


def test_a_pickle_where_the_old_model_file_was_is_never_opened_next_to_a_current_model(
    storage: LocalModelStorage, context: ExecutionContext, marker: Path
) -> None:
    original = trained(storage, context)
    plant_joblib(stored_files(storage) / LEGACY_PICKLE_FILE, RunsCodeWhenUnpickled(marker))

    restored = loaded(storage, context)

    assert_ranks_like(restored, original, ("I forgot my password", "hello"))


@pytest.mark.parametrize(
    "file_name", [METADATA_FILE, idf_file("words"), idf_file("chars"), COEFFICIENTS_FILE, INTERCEPTS_FILE]
)
@pytest.mark.parametrize("plant", [plant_object_array, plant_pickle, plant_joblib])
def test_a_pickle_under_a_current_file_name_is_refused_without_running(
    storage: LocalModelStorage,
    context: ExecutionContext,
    marker: Path,
    file_name: str,
    plant: Callable[[Path, object], None],
) -> None:
    trained(storage, context)
    plant(stored_files(storage) / file_name, RunsCodeWhenUnpickled(marker))

    with pytest.raises(MalformedModelError, match=rf"cannot be read \({re.escape(file_name)}: .*retrain"):
        loaded(storage, context)


def test_a_model_directory_without_its_description_is_refused(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    trained(storage, context)
    (stored_files(storage) / METADATA_FILE).unlink()

    with pytest.raises(MalformedModelError, match=f"no {re.escape(METADATA_FILE)}.*retrain"):
        loaded(storage, context)


def test_training_without_two_intents_predicts_nothing(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    classifier = TfidfIntentClassifier.create(
        TfidfIntentClassifier.get_default_config(), storage, Resource("intent_classifier"), context
    )
    classifier.train(TrainingData([Message(data={TEXT: "hi", INTENT: "greet"})]))

    assert classify(classifier, "hi").get(INTENT) is None
    assert classify(loaded(storage, context), "hi").get(INTENT) is None
