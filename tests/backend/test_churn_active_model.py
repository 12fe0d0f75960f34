"""The product's own churn model, end to end: churn-export of real customer rows, churn-train on that CSV, and
the model activated with CHURN_MODEL_DIR filling the health response's churn_probability and model_version.
A model that cannot be loaded leaves them null and the backend serving."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cs_backend.__main__ import main
from cs_backend.app_keys import DATABASE
from cs_backend.churn.export import export_training_set
from cs_backend.churn.model_store import METADATA_FILE, MODEL_FILE
from cs_backend.churn.models import ChurnSignal
from cs_backend.config import Settings
from cs_backend.main import create_app

from .churn_rows import population
from .health_rows import days_ago
from .helpers import bearer_of_new_account

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # the SQL is covered on both by test_segments


async def test_a_model_trained_on_the_products_history_scores_its_customers(
    aiohttp_client: Any, client: TestClient[Any, Any], settings: Settings, tmp_path: Path
) -> None:
    db = client.app[DATABASE]
    made = await population(db)
    async with db.sessions() as session:  # three silent customers left too: 6 churned of 24
        for customer_id in made.silent[:3]:
            session.add(
                ChurnSignal(
                    customer_id=customer_id,
                    kind="cancel_request",
                    outcome="cancelling",
                    created_at=days_ago(1),
                )
            )
        await session.commit()
    exported = tmp_path / "customers.csv"
    assert await export_training_set(db, exported) == (24, 6)
    model_dir = tmp_path / "model"
    assert main(["churn-train", "--csv", str(exported), "--target", "churned", "--out", str(model_dir)]) == 0
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    assert metadata["excluded_columns"]["customer_id"] == "an identifier (its name)"
    assert metadata["target"] == {"column": "churned", "positive": "1"}

    with_model = await aiohttp_client(create_app(dataclasses.replace(settings, churn_model_dir=model_dir)))
    agent = await bearer_of_new_account(with_model, "agent")
    risky = await (await with_model.get(f"/api/customers/{made.cancelling[0]}/health", headers=agent)).json()
    safe = await (await with_model.get(f"/api/customers/{made.paying[0]}/health", headers=agent)).json()
    assert risky["model_version"] == safe["model_version"] == metadata["version"]
    assert 0 <= safe["churn_probability"] < risky["churn_probability"] <= 1
    assert risky["score"] < safe["score"]  # the health score itself is unchanged by the model

    # Without CHURN_MODEL_DIR (the `client` app): no probability.
    plain = await (await client.get(f"/api/customers/{made.paying[0]}/health", headers=agent)).json()
    assert plain["churn_probability"] is None and plain["model_version"] is None


async def test_a_model_that_cannot_be_loaded_is_left_out(
    aiohttp_client: Any, client: TestClient[Any, Any], settings: Settings, tmp_path: Path, caplog: Any
) -> None:
    made = await population(client.app[DATABASE])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / METADATA_FILE).write_text(
        json.dumps({"format": 1, "version": "x", "features": [], "threshold": 0.5})
    )
    (broken / MODEL_FILE).write_bytes(b"not a model")
    with caplog.at_level(logging.ERROR):
        app_client = await aiohttp_client(create_app(dataclasses.replace(settings, churn_model_dir=broken)))
    assert "churn model not activated (CHURN_MODEL_DIR)" in caplog.text
    agent = await bearer_of_new_account(app_client, "agent")
    response = await app_client.get(f"/api/customers/{made.paying[0]}/health", headers=agent)
    assert response.status == 200
    health = await response.json()
    assert health["churn_probability"] is None and health["model_version"] is None and health["score"] > 0
