"""The health score: weights.toml's validation, score_batch's arithmetic and bands, rescoring real rows
(current score, history, top factors), the red alert once per move into red, and the health routes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomllib
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from cs_backend.alerts.models import FollowUpTask
from cs_backend.alerts.service import AlertServices
from cs_backend.app_keys import DATABASE, HEALTH_SCORER
from cs_backend.config import Settings
from cs_backend.health_scores import service
from cs_backend.health_scores.features import FEATURE_NAMES
from cs_backend.health_scores.models import HealthScoreHistory
from cs_backend.health_scores.scoring import Scorer, score_batch
from cs_backend.health_scores.weights import WEIGHTS_PATH, Weights, WeightsError, load_weights, parse_weights
from cs_backend.main import create_app

from .health_rows import NOW, healthy_and_struggling
from .helpers import assert_error, bearer_of_new_account

NEUTRAL = {name: 0.0 for name in FEATURE_NAMES} | {"csat_mean_90d": 3.0, "ces_mean_90d": 4.0}


def bundled() -> dict[str, Any]:
    with WEIGHTS_PATH.open("rb") as file:
        return tomllib.load(file)


def row(**values: float) -> list[float]:
    merged = NEUTRAL | values
    return [merged[name] for name in FEATURE_NAMES]


def test_the_bundled_weights_load() -> None:
    weights = load_weights()
    assert (weights.base, weights.red_below, weights.yellow_below, weights.top_factors) == (60, 40, 70, 3)
    assert {factor.feature for factor in weights.factors} >= {
        "onboarding_progress",
        "days_since_last_activity",
        "tickets_open",
        "oldest_open_ticket_days",
        "tickets_90d",
        "csat_mean_90d",
        "csat_trend",
        "ces_mean_90d",
        "handoffs_90d",
        "repeat_contacts_30d",
        "abandoned_30d",
        "churn_signals_90d",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw.pop("bands"), "missing required field 'bands'"),
        (lambda raw: raw.update(colour="red"), "unknown field(s) colour"),
        (lambda raw: raw["bands"].update(red_below=80), "red_below must be below bands.yellow_below"),
        (lambda raw: raw["bands"].update(red_below="40"), "bands.red_below must be a whole number"),
        (lambda raw: raw.update(base=150), "base must be between 0 and 100"),
        (lambda raw: raw["factors"]["csat"].update(feature="mood"), "factors.csat.feature: 'mood' is not"),
        (lambda raw: raw["factors"]["csat"].update(points=0), "factors.csat.points must not be 0"),
        (lambda raw: raw["factors"]["csat"].update(full_at=3), "zero_at and full_at must differ"),
        (lambda raw: raw["factors"]["csat"].update(two_sided="yes"), "two_sided must be true or false"),
        (lambda raw: raw["factors"]["csat"].pop("label"), "factors.csat: missing required field 'label'"),
        (lambda raw: raw.update(top_factors=99), "top_factors must be between 1 and 12"),
    ],
)
def test_bad_weights_are_refused_by_field(change: Any, message: str) -> None:
    raw = bundled()
    change(raw)
    with pytest.raises(WeightsError) as error:
        parse_weights(raw, "weights.toml")
    assert message in str(error.value)


async def test_a_bad_weights_file_stops_the_app(
    aiohttp_client: Any, tmp_path: Path, settings: Settings
) -> None:
    broken = tmp_path / "weights.toml"
    broken.write_text("base = [")
    with pytest.raises(WeightsError, match="not valid TOML"):
        await aiohttp_client(create_app(dataclasses.replace(settings, health_weights_path=broken)))
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "missing.toml")


def test_score_batch_adds_the_factors_points_to_the_base() -> None:
    weights = load_weights()
    matrix = np.array(
        [
            row(),  # nothing known: the base
            row(onboarding_progress=1.0, csat_mean_90d=5.0, ces_mean_90d=7.0),  # 60 + 15 + 15 + 10, capped
            row(tickets_open=2.5, churn_signals_90d=1, days_since_last_activity=33.5),  # 60 - 5 - 10 - 10
            row(csat_mean_90d=1.0, csat_trend=-4.0, churn_signals_90d=5, days_since_last_activity=400),
        ]
    )
    batch = score_batch(matrix, weights)
    assert batch.scores.tolist() == [60, 100, 35, 0]
    assert [batch.band(index) for index in range(4)] == ["yellow", "green", "red", "red"]
    scorer = Scorer.of(weights)
    assert scorer.explain(batch, matrix, 0) == []
    assert scorer.explain(batch, matrix, 2) == [
        {"name": "inactivity", "label": "Days since last activity", "value": 33.5, "points": -10.0},
        {
            "name": "churn_signals",
            "label": "Cancel or downgrade requests (90 days)",
            "value": 1.0,
            "points": -10.0,
        },
        {"name": "open_tickets", "label": "Open tickets", "value": 2.5, "points": -5.0},
    ]
    # Two-sided: a CSAT below the neutral 3 counts against, down to -15 at 1.
    assert scorer.explain(batch, matrix, 3)[2]["points"] == -15.0
    with pytest.raises(ValueError, match="feature columns"):
        scorer.score_batch(np.zeros((2, 3)))


def test_bands_come_from_the_configuration() -> None:
    raw = bundled()
    raw["bands"] = {"red_below": 61, "yellow_below": 90}
    matrix = np.array([row(), row(onboarding_progress=1.0, csat_mean_90d=4.0)])  # 60, 82.5 → 60, 82
    batch = score_batch(matrix, parse_weights(raw, "custom"))
    assert batch.scores.tolist() == [60, 82]
    assert [batch.band(0), batch.band(1)] == ["red", "yellow"]


async def history_count(client: TestClient[Any, Any]) -> int:
    async with client.app[DATABASE].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(HealthScoreHistory)) or 0)


async def red_alerts(client: TestClient[Any, Any]) -> list[FollowUpTask]:
    async with client.app[DATABASE].sessions() as session:
        return list(await session.scalars(select(FollowUpTask).where(FollowUpTask.kind == "health_red")))


async def test_rescoring_real_rows_stores_the_score_and_its_history(client: TestClient[Any, Any]) -> None:
    db, scorer = client.app[DATABASE], client.app[HEALTH_SCORER]
    happy, sad = await healthy_and_struggling(db)
    first = await service.rescore(db, scorer, [happy, sad], "rescore", now=NOW)
    assert [(change.customer_id, change.band, change.previous_band) for change in first] == [
        (happy, "green", None),
        (sad, "red", None),
    ]
    assert first[0].score == 98 and first[1].score == 0
    assert [factor["name"] for factor in first[1].factors] == ["inactivity", "ticket_age", "churn_signals"]

    again = await service.rescore(db, scorer, [sad], "ticket.created", now=NOW)
    assert again[0].previous_band == "red" and not again[0].entered_red
    assert await history_count(client) == 3

    staff = await bearer_of_new_account(client, "agent")
    health = await (await client.get(f"/api/customers/{sad}/health", headers=staff)).json()
    assert health == {
        "customer_id": sad,
        "score": 0,
        "band": "red",
        "factors": first[1].factors,
        "computed_at": health["computed_at"],
        "churn_probability": None,
        "model_version": None,
    }
    page = await (await client.get(f"/api/customers/{sad}/health/history", headers=staff)).json()
    assert [item["reason"] for item in page["items"]] == ["ticket.created", "rescore"] and page["total"] == 2
    assert page["items"][0]["factors"] == first[1].factors

    scores = await (await client.get("/api/health-scores", headers=staff)).json()
    assert [item["customer_id"] for item in scores["items"]] == [sad, happy]
    green = await (await client.get("/api/health-scores?band=green", headers=staff)).json()
    assert [item["customer_id"] for item in green["items"]] == [happy] and green["total"] == 1


async def test_entering_red_raises_one_alert_per_move(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    db, scorer = client.app[DATABASE], client.app[HEALTH_SCORER]
    services = AlertServices.of(client.app)
    _, sad = await healthy_and_struggling(db)
    lenient = Scorer.of(dataclasses.replace(scorer.weights, red_below=0))

    assert await service.alert_on_red(services, await service.rescore(db, scorer, [sad], "a", now=NOW)) == 1
    # Still red: no new alert however often it is rescored.
    for _ in range(2):
        assert (
            await service.alert_on_red(services, await service.rescore(db, scorer, [sad], "b", now=NOW)) == 0
        )
    # Out of red, then back in: a second alert.
    out = await service.rescore(db, lenient, [sad], "c", now=NOW)
    assert out[0].band == "yellow" and await service.alert_on_red(services, out) == 0
    back = await service.rescore(db, scorer, [sad], "d", now=NOW)
    assert await service.alert_on_red(services, back) == 1

    first, second = await red_alerts(client)
    assert first.customer_id == sad and first.title == f"Customer {sad}'s health turned red (0/100)"
    assert "Days since last activity: 45 (-14.3 points)" in first.detail
    assert first.source_ref != second.source_ref


async def test_health_routes_answer_unscored_and_unknown_customers(client: TestClient[Any, Any]) -> None:
    staff = await bearer_of_new_account(client, "admin")
    customer = await (await client.post("/api/customers", json={"email": "new@example.com"})).json()
    response = await client.get(f"/api/customers/{customer['id']}/health", headers=staff)
    assert response.status == 200
    computed = await response.json()
    # Just joined, nothing known: the base score, computed for the read and not stored.
    assert (computed["score"], computed["band"], computed["factors"]) == (60, "yellow", [])
    assert await history_count(client) == 0
    for path in ("/api/customers/999/health", "/api/customers/999/health/history", "/api/customers/x/health"):
        await assert_error(await client.get(path, headers=staff), 404)
    await assert_error(await client.get("/api/health-scores?band=blue", headers=staff), 400, {"band"})
    await assert_error(await client.get("/api/health-scores?limit=0", headers=staff), 400, {"limit"})


async def test_the_app_loads_weights_from_health_weights_path(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "weights.toml"
    path.write_text(WEIGHTS_PATH.read_text().replace("base = 60", "base = 75"))
    client = await aiohttp_client(create_app(dataclasses.replace(settings, health_weights_path=path)))
    weights: Weights = client.app[HEALTH_SCORER].weights
    assert weights.base == 75
