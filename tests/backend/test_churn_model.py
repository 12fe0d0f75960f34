"""The churn model: `python -m cs_backend churn-train` on 400 real Telco customers (tests/backend/data), the
report and metadata it writes, loading with the trusted-type check, and the CSVs it refuses."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
import skops.io
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from cs_backend.__main__ import main
from cs_backend.churn.model_store import METADATA_FILE, MODEL_FILE, REPORT_FILE, ModelLoadError, load_model

SAMPLE = Path(__file__).parent / "data" / "telco_churn_sample.csv"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("churn") / "model"
    assert main(["churn-train", "--csv", str(SAMPLE), "--target", "Churn", "--out", str(out)]) == 0
    return out


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_training_writes_model_metadata_and_report(model_dir: Path) -> None:
    assert sorted(p.name for p in model_dir.iterdir()) == sorted([MODEL_FILE, METADATA_FILE, REPORT_FILE])
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    features = {f["name"]: f["kind"] for f in metadata["features"]}
    # TotalCharges has blanks (3 rows) and is still numeric: the blanks are missing values, imputed.
    assert features["tenure"] == features["TotalCharges"] == features["MonthlyCharges"] == "numeric"
    assert features["Contract"] == features["PaymentMethod"] == "categorical"
    assert "customerID" not in features and "Churn" not in features
    assert metadata["excluded_columns"] == {"customerID": "an identifier (its name)"}
    assert metadata["target"] == {"column": "Churn", "positive": "Yes"}
    assert metadata["rows"] == 400 and metadata["positives"] == 104
    assert set(metadata["candidates"]) == {"logistic_regression", "hist_gradient_boosting"}
    assert metadata["classifier"] in metadata["candidates"]
    chosen = metadata["candidates"][metadata["classifier"]]
    assert chosen["roc_auc"] == max(c["roc_auc"] for c in metadata["candidates"].values())
    # Real signal on 400 customers, without leakage (the full file gives about 0.85).
    assert 0.75 < metadata["metrics"]["roc_auc"] < 0.95
    assert metadata["metrics"]["pr_auc"] > metadata["metrics"]["base_rate"]
    assert 0 < metadata["threshold"] < 1 and 0.4 < metadata["metrics"]["f1"] < 1
    assert metadata["model_sha256"] == hashlib.sha256((model_dir / MODEL_FILE).read_bytes()).hexdigest()
    assert metadata["version"].endswith(metadata["model_sha256"][:8])
    assert metadata["sklearn_version"] and metadata["skops_version"] and metadata["created_at"]

    report = (model_dir / REPORT_FILE).read_text()
    assert report.startswith(f"# Churn model {metadata['version']}")
    for heading in ("## Features", "## Candidates", "## Chosen model", "## Calibration (out-of-fold)"):
        assert heading in report
    assert f"{metadata['metrics']['roc_auc']:.4f}" in report
    assert "`customerID`: an identifier" in report


def test_loaded_model_ranks_customers_by_risk(model_dir: Path) -> None:
    model = load_model(model_dir)
    assert isinstance(model.pipeline, Pipeline)
    rows = read_rows(SAMPLE)
    probabilities = model.predict(rows)
    churned = [p for p, row in zip(probabilities, rows, strict=True) if row["Churn"] == "Yes"]
    stayed = [p for p, row in zip(probabilities, rows, strict=True) if row["Churn"] == "No"]
    assert sum(churned) / len(churned) > 2 * sum(stayed) / len(stayed)
    new_monthly, loyal_two_year = model.predict(
        [
            {
                "tenure": 1,
                "Contract": "Month-to-month",
                "MonthlyCharges": 95,
                "InternetService": "Fiber optic",
            },
            {"tenure": 70, "Contract": "Two year", "MonthlyCharges": 25, "InternetService": "No"},
        ]
    )
    assert new_monthly > 0.4 > 0.1 > loyal_two_year


def _replace_model(model_dir: Path, target: Path, obj: object) -> Path:
    target.mkdir()
    data = skops.io.dumps(obj)
    (target / MODEL_FILE).write_bytes(data)
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    metadata["model_sha256"] = hashlib.sha256(data).hexdigest()
    (target / METADATA_FILE).write_text(json.dumps(metadata))
    return target


def test_loading_refuses_a_file_with_an_untrusted_type(model_dir: Path, tmp_path: Path) -> None:
    # A pipeline whose step would call eval(): skops records the function by name; the check refuses it
    # before anything is constructed.
    hostile = _replace_model(model_dir, tmp_path / "hostile", Pipeline([("run", FunctionTransformer(eval))]))
    with pytest.raises(ModelLoadError, match=r"outside the trusted list: builtins\.eval"):
        load_model(hostile)


def test_loading_refuses_a_file_changed_after_training(model_dir: Path, tmp_path: Path) -> None:
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / METADATA_FILE).write_bytes((model_dir / METADATA_FILE).read_bytes())
    (changed / MODEL_FILE).write_bytes((model_dir / MODEL_FILE).read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match="SHA-256"):
        load_model(changed)
    with pytest.raises(ModelLoadError, match="no metadata.json"):
        load_model(tmp_path / "nothing-here")


def _refused(csv_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    out = tmp_path / "out"
    code = main(["churn-train", "--csv", str(csv_path), "--target", "Churn", "--out", str(out), *extra])
    assert code == 2
    assert not out.exists()  # nothing written
    return capsys.readouterr().err


def test_bad_csvs_are_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = read_rows(SAMPLE)
    no_target = write_rows(
        tmp_path / "no_target.csv", [{k: v for k, v in r.items() if k != "Churn"} for r in rows]
    )
    assert "no column 'Churn'" in _refused(no_target, tmp_path, capsys)

    one_class = write_rows(tmp_path / "one_class.csv", [r for r in rows if r["Churn"] == "No"])
    assert "single class ('No' on every row)" in _refused(one_class, tmp_path, capsys)

    junk = [dict(r) for r in rows]
    junk[7]["MonthlyCharges"] = "lots"
    message = _refused(write_rows(tmp_path / "junk.csv", junk), tmp_path, capsys)
    assert "column 'MonthlyCharges' is numeric but line 9 has 'lots'" in message

    three_values = [dict(r) for r in rows]
    three_values[0]["Churn"] = "Maybe"
    assert "3 distinct values" in _refused(write_rows(tmp_path / "three.csv", three_values), tmp_path, capsys)

    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" * 50)
    assert "not UTF-8 text" in _refused(binary, tmp_path, capsys)

    assert "no such file" in _refused(tmp_path / "missing.csv", tmp_path, capsys)
    assert "--id-column 'nope'" in _refused(SAMPLE, tmp_path, capsys, "--id-column", "nope")


def test_a_copy_of_the_target_is_left_out(tmp_path: Path) -> None:
    from cs_backend.churn.dataset import load_dataset

    rows = [dict(r, cancelled_flag="1" if r["Churn"] == "Yes" else "0") for r in read_rows(SAMPLE)]
    dataset = load_dataset(write_rows(tmp_path / "leaky.csv", rows), "Churn")
    assert "cancelled_flag" not in {f.name for f in dataset.features}
    assert "leakage" in dataset.excluded["cancelled_flag"]
