"""bot/components/static_embedding_featurizer.py and TfidfIntentClassifier's `dense_feature_weight`: the
sentence vector is the unit mean of the message's token rows (special tokens left out), the classifier uses it
next to its TF-IDF features and survives persist/load with it. A fake tokenizer stands in for WordLlama's,
which only the bench's environment has (requirements/bench-nlu.txt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.static_embedding_featurizer import (
    StaticEmbedder,
    StaticEmbeddingFeaturizer,
    package_file,
)
from bot.components.tfidf_intent_classifier import TfidfIntentClassifier

VOCABULARY = ["<s>", "card", "lost", "stolen", "refund", "money", "back", "my"]
# One axis per meaning: "card/lost/stolen" share axis 0, "refund/money/back" axis 1, "my" axis 2.
MATRIX = np.array(
    [[9, 9, 9], [1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float16
)


@dataclass
class FakeEncoding:
    ids: list[int]
    special_tokens_mask: list[int] = field(default_factory=list)


class FakeTokenizer:
    """Like a `tokenizers.Tokenizer`: a special <s> first, then the known words."""

    def encode_batch(self, texts: list[str]) -> list[FakeEncoding]:
        encodings = []
        for text in texts:
            ids = [0] + [VOCABULARY.index(w) for w in text.lower().split() if w in VOCABULARY]
            encodings.append(FakeEncoding(ids, [1] + [0] * (len(ids) - 1)))
        return encodings


def featurizer() -> StaticEmbeddingFeaturizer:
    return StaticEmbeddingFeaturizer({}, "featurizer", StaticEmbedder(FakeTokenizer(), MATRIX))


def test_the_sentence_vector_is_the_unit_mean_of_the_word_rows_without_special_tokens() -> None:
    vectors = StaticEmbedder(FakeTokenizer(), MATRIX).embed(["my card", "unknown words"])

    np.testing.assert_allclose(vectors[0], np.array([1, 0, 1]) / np.sqrt(2), rtol=1e-6)
    # No known token: a zero vector, not a division by zero.
    np.testing.assert_array_equal(vectors[1], np.zeros(3))


def test_messages_get_one_dense_sentence_feature_and_no_sequence_feature() -> None:
    message = Message(data={TEXT: "lost card"})
    featurizer().process([message])

    sequence, sentence = message.get_dense_features(TEXT)
    assert sequence is None
    assert sentence is not None and sentence.features.shape == (1, 3)
    np.testing.assert_allclose(sentence.features[0], [1, 0, 0], rtol=1e-6)


def test_a_missing_package_fails_with_what_to_install() -> None:
    with pytest.raises(FileNotFoundError, match="make bench-nlu"):
        package_file("no_such_package_for_this_test", "weights.safetensors")


def test_a_file_missing_from_an_installed_package_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="not-there.bin"):
        package_file("bot", "not-there.bin")


def test_the_classifier_uses_dense_features_and_keeps_them_through_persist_and_load(
    tmp_path: Path,
) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="intent_classifier")
    config = {**TfidfIntentClassifier.get_default_config(), "dense_feature_weight": 1.0}
    examples = {"lost_card": ["lost card", "stolen card", "my card"], "refund": ["refund", "money back"]}
    data = TrainingData([Message(data={TEXT: t, INTENT: i}) for i, texts in examples.items() for t in texts])
    featurizer().process_training_data(data)
    classifier = TfidfIntentClassifier.create(config, storage, Resource("intent_classifier"), context)
    classifier.train(data)
    reloaded = TfidfIntentClassifier.load(config, storage, Resource("intent_classifier"), context)

    # "stolen" alone shares no character n-gram with "refund"/"money back" worth more than its embedding.
    message = Message(data={TEXT: "stolen"})
    featurizer().process([message])
    reloaded.process([message])
    assert message.get(INTENT)["name"] == "lost_card"
    before = Message(data={TEXT: "stolen"})
    featurizer().process([before])
    classifier.process([before])
    assert before.get(INTENT)["confidence"] == pytest.approx(message.get(INTENT)["confidence"])


def test_the_classifier_refuses_messages_without_dense_features_when_it_wants_them(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="intent_classifier")
    config = {**TfidfIntentClassifier.get_default_config(), "dense_feature_weight": 1.0}
    data = TrainingData(
        [Message(data={TEXT: "hello there", INTENT: "x"}), Message(data={TEXT: "good bye", INTENT: "y"})]
    )
    classifier = TfidfIntentClassifier.create(config, storage, Resource("intent_classifier"), context)

    with pytest.raises(ValueError, match="dense featurizer"):
        classifier.train(data)
