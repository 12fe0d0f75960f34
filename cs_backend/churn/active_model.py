"""The active churn model (CHURN_MODEL_DIR): loaded once at startup, it gives each customer's health response
a churn probability from the customer's current features (docs/CHURN.md, "Activating a model").

scikit-learn is imported only when a model is configured, so a backend without one starts as fast as before.
A model that cannot be loaded (missing files, an untrusted type, a changed file) is logged and left out: the
health scores go on without a probability.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cs_backend.db import Database
from cs_backend.health_scores.features import customer_features

if TYPE_CHECKING:
    from cs_backend.churn.model_store import ChurnModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    churn_probability: float
    model_version: str


@dataclass(frozen=True)
class ActiveChurnModel:
    model: ChurnModel | None = None

    @classmethod
    def load(cls, model_dir: Path | None) -> ActiveChurnModel:
        if model_dir is None:
            return cls()
        from cs_backend.churn.model_store import ModelLoadError, load_model

        try:
            model = load_model(model_dir)
        except ModelLoadError as error:
            log.error("churn model not activated (CHURN_MODEL_DIR): %s", error)
            return cls()
        log.info("churn model %s active (%d features)", model.version, len(model.features))
        return cls(model)

    async def predict(self, db: Database, customer_id: int) -> Prediction | None:
        """The customer's churn probability now; None without a model or without such a customer."""
        if self.model is None:
            return None
        async with db.sessions() as session:
            features = await customer_features(session, [customer_id])
        if not features:
            return None
        model = self.model
        (probability,) = await asyncio.to_thread(model.predict, [features[0].as_dict()])
        return Prediction(round(probability, 4), model.version)
