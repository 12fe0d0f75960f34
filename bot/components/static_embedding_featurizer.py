"""Dense sentence features from a static token-embedding matrix that an installed package ships.

A candidate of `make bench-nlu` (benchmarks/bench_nlu.py), not part of config.yml's pipeline
(docs/ASSISTANT.md says why). The sentence vector is the mean of the message's token embeddings,
L2-normalised: what WordLlama's `embed(norm=True)` computes, without importing WordLlama itself, whose code
wants numpy>=2 and pydantic>=2 that Rasa 3.6 cannot have. Only two data files of the installed package are
read, found with importlib without running the package: a `tokenizers` JSON file and a safetensors matrix.
Nothing is downloaded at run time; a missing package or file fails at load with what to install.

TfidfIntentClassifier reads these features when its `dense_feature_weight` is above 0.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

INSTALL_HINT = "make bench-nlu installs it into var/bench-nlu/venv (requirements/bench-nlu.txt)"


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, located without importing (running) the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not in the installed package {package!r}")
    return path


class StaticEmbedder:
    """Token ids → mean of their embedding rows → unit vector."""

    def __init__(self, tokenizer: Any, matrix: np.ndarray) -> None:
        self.tokenizer = tokenizer
        # float16 on disk (16 MB); float32 for the sums, which float16 would round.
        self.matrix = matrix.astype(np.float32)

    @classmethod
    def from_package(
        cls, package: str, tokenizer_file: str, weights_file: str, tensor: str
    ) -> StaticEmbedder:
        from safetensors.numpy import load_file  # imported here: only this candidate needs them
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(package_file(package, tokenizer_file)))
        matrix = load_file(str(package_file(package, weights_file)))[tensor]
        return cls(tokenizer, matrix)

    def embed(self, texts: List[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.matrix.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts)):
            ids = [
                i
                for i, special in zip(encoding.ids, encoding.special_tokens_mask, strict=True)
                if not special
            ]
            if ids:
                vectors[row] = self.matrix[ids].mean(axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class StaticEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one dense sentence feature vector (no sequence features) to each message's text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # WordLlama 0.4.0.post1's default model: 256 dimensions, its Llama 2 tokenizer.
            "package": "wordllama",
            "tokenizer_file": "tokenizers/l2_supercat_tokenizer_config.json",
            "weights_file": "weights/l2_supercat_256.safetensors",
            "tensor": "embedding.weight",
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["tokenizers", "safetensors"]

    def __init__(
        self, config: Dict[Text, Any], name: Text, embedder: Optional[StaticEmbedder] = None
    ) -> None:
        super().__init__(name, {**self.get_default_config(), **config})
        self.embedder = embedder or StaticEmbedder.from_package(
            self._config["package"],
            self._config["tokenizer_file"],
            self._config["weights_file"],
            self._config["tensor"],
        )

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> StaticEmbeddingFeaturizer:
        return cls(config, execution_context.node_name)

    def process(self, messages: List[Message]) -> List[Message]:
        with_text = [message for message in messages if message.get(TEXT)]
        if not with_text:
            return messages
        vectors = self.embedder.embed([message.get(TEXT) for message in with_text])
        for message, vector in zip(with_text, vectors, strict=True):
            # Sentence features only: the one classifier that reads them wants a vector per message.
            self.add_features_to_message(None, vector[np.newaxis, :], TEXT, message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass
