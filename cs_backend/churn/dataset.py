"""A churn training set read from a CSV file of historical customers: which columns are features (numeric or
categorical), which are left out (identifiers, copies of the target) and the 0/1 target.

Every problem is a `DatasetError` with a sentence naming the column or row, raised before anything is trained
or written.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

FeatureKind = Literal["numeric", "categorical"]

# Read as "no value": Telco's TotalCharges is a single space for customers in their first month.
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
# Target values read as the positive class when --positive is not given.
POSITIVE_TOKENS = ("1", "yes", "true", "churned", "churn", "y")
NEGATIVE_TOKENS = ("0", "no", "false", "retained", "stayed", "n")
# Column names that say "an identifier": id, uuid, customer_id, account-id, customerID, accountId.
ID_NAME = re.compile(r"^(?i:id|uuid|guid)$|[_\-\s](?i:id|uuid|guid)$|[a-z](ID|Id)$")
# A categorical column with more distinct values than this share of the rows is free text or an identifier.
MAX_CATEGORY_SHARE = 0.5
MIN_ROWS = 20
MIN_PER_CLASS = 5
MAX_BYTES = 200 * 1024 * 1024


class DatasetError(ValueError):
    """The CSV cannot be used for training; the message says why, in words."""


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: FeatureKind

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind}


@dataclass(frozen=True)
class Dataset:
    features: tuple[FeatureSpec, ...]
    # One row per customer, one column per feature: floats (NaN = missing) for numeric features, strings
    # (None = missing) for categorical ones. dtype object, so one array carries both to the ColumnTransformer.
    X: np.ndarray
    y: np.ndarray  # 1 = churned (the positive value), 0 otherwise
    target: str
    positive: str
    excluded: dict[str, str]  # column -> why it is not a feature

    @property
    def rows(self) -> int:
        return len(self.y)

    @property
    def positives(self) -> int:
        return int(self.y.sum())


def is_missing(text: str) -> bool:
    return text.strip().lower() in MISSING_TOKENS


def parse_number(text: str) -> float | None:
    """The value of a numeric cell; None when it is not a finite number."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise DatasetError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            rows = list(csv.reader(file))
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text (byte {error.start}); is it a CSV file?") from error
    except csv.Error as error:
        raise DatasetError(f"{path}: not a readable CSV file ({error})") from error
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise DatasetError(f"{path}: empty file")
    header = [name.strip() for name in rows[0]]
    if len(header) < 2:
        raise DatasetError(f"{path}: one column only; a header with the target and features is needed")
    if any(not name for name in header):
        raise DatasetError(f"{path}: a column of the header has no name")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DatasetError(f"{path}: duplicate column names: {', '.join(duplicates)}")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DatasetError(f"{path}: line {number} has {len(row)} fields, the header has {len(header)}")
    return header, rows[1:]


def target_labels(values: Sequence[str], target: str, positive: str | None) -> tuple[np.ndarray, str]:
    """The 0/1 target and the positive value it was read against."""
    if any(is_missing(value) for value in values):
        row = next(i for i, value in enumerate(values) if is_missing(value)) + 2
        raise DatasetError(f"target column {target!r} is empty on line {row}")
    distinct = sorted({value.strip() for value in values})
    if len(distinct) == 1:
        raise DatasetError(
            f"target column {target!r} has a single class ({distinct[0]!r} on every row); "
            "both churned and not are needed"
        )
    if positive is None:
        by_lower = {value.lower(): value for value in distinct}
        if len(distinct) != 2:
            raise DatasetError(
                f"target column {target!r} has {len(distinct)} distinct values "
                f"({', '.join(distinct[:5])}{', ...' if len(distinct) > 5 else ''}); "
                "it needs two, or --positive VALUE naming the churned one"
            )
        found = [by_lower[token] for token in POSITIVE_TOKENS if token in by_lower]
        negatives = [token for token in NEGATIVE_TOKENS if token in by_lower]
        if len(found) != 1 or not negatives:
            raise DatasetError(
                f"target column {target!r} has values {distinct[0]!r} and {distinct[1]!r}: "
                "say which one means churned with --positive VALUE"
            )
        positive = found[0]
    positive = positive.strip()
    if positive not in distinct:
        raise DatasetError(f"--positive {positive!r} never occurs in target column {target!r}")
    y = np.array([1 if value.strip() == positive else 0 for value in values], dtype=np.int64)
    positives, negatives_count = int(y.sum()), int(len(y) - y.sum())
    if positives == 0 or negatives_count == 0:
        raise DatasetError(f"target column {target!r} has a single class; both churned and not are needed")
    if min(positives, negatives_count) < MIN_PER_CLASS:
        raise DatasetError(
            f"target column {target!r} has {min(positives, negatives_count)} rows of one class; "
            f"at least {MIN_PER_CLASS} of each are needed for 5-fold cross-validation"
        )
    return y, positive


def column_kind(name: str, values: Sequence[str]) -> FeatureKind:
    """Numeric when every present value is a number; categorical when none (or few, e.g. "Yes"/"No") are.

    A column of numbers with a few words in it is refused: silently reading "abc" as missing would hide a
    broken export.
    """
    present = [(row, value) for row, value in enumerate(values) if not is_missing(value)]
    bad = [(row, value) for row, value in present if parse_number(value) is None]
    if not bad:
        return "numeric"
    if len(bad) <= 0.05 * len(present):
        row, value = bad[0]
        raise DatasetError(
            f"column {name!r} is numeric but line {row + 2} has {value.strip()[:40]!r} "
            f"({len(bad)} such value{'s' if len(bad) > 1 else ''}); fix the file or leave the column out "
            "with --id-column"
        )
    return "categorical"


def determines_target(column: Sequence[str], y: np.ndarray) -> bool:
    """A few distinct values, each seen with one class only: a copy or an encoding of the target (leakage)."""
    classes: dict[str, set[int]] = {}
    for value, label in zip(column, y, strict=True):
        classes.setdefault(value.strip().lower(), set()).add(int(label))
    return len(classes) <= 10 and all(len(labels) == 1 for labels in classes.values())


def load_dataset(
    path: Path, target: str, positive: str | None = None, id_columns: Sequence[str] = ()
) -> Dataset:
    header, rows = read_csv(path)
    if target not in header:
        raise DatasetError(f"no column {target!r} in {path} (columns: {', '.join(header)})")
    for name in id_columns:
        if name not in header:
            raise DatasetError(f"--id-column {name!r}: no such column in {path}")
    if len(rows) < MIN_ROWS:
        raise DatasetError(f"{path}: {len(rows)} rows; at least {MIN_ROWS} are needed")
    columns = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    y, positive = target_labels(columns[target], target, positive)
    excluded: dict[str, str] = {name: "named with --id-column" for name in id_columns}
    features: list[FeatureSpec] = []
    for name in header:
        if name == target or name in excluded:
            continue
        values = columns[name]
        present = [value.strip() for value in values if not is_missing(value)]
        if not present:
            excluded[name] = "empty on every row"
            continue
        if len(set(present)) == 1:
            excluded[name] = "the same value on every row"
            continue
        kind = column_kind(name, values)
        distinct = len(set(present))
        if ID_NAME.search(name) and (kind == "categorical" or distinct == len(present)):
            excluded[name] = "an identifier (its name)"
            continue
        if kind == "categorical" and distinct > MAX_CATEGORY_SHARE * len(rows):
            excluded[name] = f"{distinct} distinct values in {len(rows)} rows: an identifier or free text"
            continue
        if determines_target(values, y):
            excluded[name] = "determines the target on every row: a copy of it (leakage)"
            continue
        features.append(FeatureSpec(name, kind))
    if not features:
        raise DatasetError(f"{path}: no usable feature column besides the target {target!r}")
    return Dataset(
        features=tuple(features),
        X=feature_matrix([dict(zip(header, row, strict=True)) for row in rows], features),
        y=y,
        target=target,
        positive=positive,
        excluded=excluded,
    )


def feature_matrix(records: Sequence[Mapping[str, object]], features: Sequence[FeatureSpec]) -> np.ndarray:
    """Records (CSV rows, or a customer's features) → the model's input, in the order of `features`.

    A missing key, a blank, or a bad number is a missing value, which the pipeline imputes.
    """
    matrix = np.empty((len(records), len(features)), dtype=object)
    for i, record in enumerate(records):
        for j, feature in enumerate(features):
            matrix[i, j] = _cell(record.get(feature.name), feature.kind)
    return matrix


def _cell(value: object, kind: FeatureKind) -> float | str | None:
    if kind == "numeric":
        if value is None or isinstance(value, bool):
            return math.nan if value is None else float(value)
        if isinstance(value, int | float):
            return float(value) if math.isfinite(float(value)) else math.nan
        number = parse_number(str(value))
        return math.nan if number is None else number
    if value is None:
        return None
    text = str(value).strip()
    return None if is_missing(text) else text
