"""The health score's weights and bands: loaded from weights.toml (standard library tomllib) and validated.

Read once when the app starts (cs_backend.main.health_weights_context) and by `python -m cs_backend
health-rescore`. A file that cannot be used raises WeightsError naming the file and the field, so a broken
configuration stops the backend at startup instead of scoring customers wrongly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from cs_backend.health_scores.features import FEATURE_NAMES
from cs_backend.health_scores.models import Band

WEIGHTS_PATH = Path(__file__).resolve().with_name("weights.toml")
MAX_POINTS = 100.0
LABEL_MAX_LENGTH = 200
_TOP_KEYS = {"base", "top_factors", "bands", "factors"}
_FACTOR_KEYS = {"feature", "label", "points", "zero_at", "full_at", "two_sided"}


class WeightsError(ValueError):
    """The weights file is missing, is not TOML, or does not describe a valid score."""


@dataclass(frozen=True)
class Factor:
    name: str
    feature: str
    label: str
    points: float
    zero_at: float
    full_at: float
    two_sided: bool


@dataclass(frozen=True)
class Weights:
    base: float
    top_factors: int
    red_below: int
    yellow_below: int
    factors: tuple[Factor, ...]

    def band(self, score: int) -> Band:
        if score < self.red_below:
            return "red"
        if score < self.yellow_below:
            return "yellow"
        return "green"


def _number(where: str, raw: Any, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise WeightsError(f"{where} must be a number")
    if not low <= raw <= high:
        raise WeightsError(f"{where} must be between {low:g} and {high:g}, got {raw}")
    return float(raw)


def _whole(where: str, raw: Any, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise WeightsError(f"{where} must be a whole number")
    if not low <= raw <= high:
        raise WeightsError(f"{where} must be between {low} and {high}, got {raw}")
    return raw


def _unknown(where: str, raw: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise WeightsError(
            f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )


def _factor(where: str, name: str, raw: Any) -> Factor:
    if not isinstance(raw, dict):
        raise WeightsError(f"{where}: must be a table")
    _unknown(where, raw, _FACTOR_KEYS)
    for required in ("feature", "label", "points", "zero_at", "full_at"):
        if required not in raw:
            raise WeightsError(f"{where}: missing required field {required!r}")
    feature, label = raw["feature"], raw["label"]
    if feature not in FEATURE_NAMES:
        raise WeightsError(
            f"{where}.feature: {feature!r} is not a feature (one of {', '.join(FEATURE_NAMES)})"
        )
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX_LENGTH:
        raise WeightsError(
            f"{where}.label must be a non-empty string of at most {LABEL_MAX_LENGTH} characters"
        )
    points = _number(f"{where}.points", raw["points"], -MAX_POINTS, MAX_POINTS)
    if points == 0:
        raise WeightsError(f"{where}.points must not be 0 (remove the factor instead)")
    zero_at = _number(f"{where}.zero_at", raw["zero_at"], -1e9, 1e9)
    full_at = _number(f"{where}.full_at", raw["full_at"], -1e9, 1e9)
    if zero_at == full_at:
        raise WeightsError(f"{where}: zero_at and full_at must differ")
    two_sided = raw.get("two_sided", False)
    if not isinstance(two_sided, bool):
        raise WeightsError(f"{where}.two_sided must be true or false")
    return Factor(name, feature, label.strip(), points, zero_at, full_at, two_sided)


def parse_weights(raw: dict[str, Any], where: str) -> Weights:
    _unknown(where, raw, _TOP_KEYS)
    for required in ("base", "bands", "factors"):
        if required not in raw:
            raise WeightsError(f"{where}: missing required field {required!r}")
    base = _number(f"{where}: base", raw["base"], 0, 100)
    bands = raw["bands"]
    if not isinstance(bands, dict):
        raise WeightsError(f"{where}: bands must be a table")
    _unknown(f"{where}: bands", bands, {"red_below", "yellow_below"})
    red_below = _whole(f"{where}: bands.red_below", bands.get("red_below"), 1, 100)
    yellow_below = _whole(f"{where}: bands.yellow_below", bands.get("yellow_below"), 1, 100)
    if red_below >= yellow_below:
        raise WeightsError(f"{where}: bands.red_below must be below bands.yellow_below")
    factors_raw = raw["factors"]
    if not isinstance(factors_raw, dict) or not factors_raw:
        raise WeightsError(f"{where}: factors must be a table of at least one [factors.<name>]")
    factors = tuple(_factor(f"{where}: factors.{name}", name, value) for name, value in factors_raw.items())
    top = _whole(f"{where}: top_factors", raw.get("top_factors", 3), 1, len(factors))
    return Weights(base, top, red_below, yellow_below, factors)


def load_weights(path: Path | None = None) -> Weights:
    """The weights of `path` (the bundled weights.toml by default), validated."""
    path = path or WEIGHTS_PATH
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except FileNotFoundError:
        raise WeightsError(f"{path}: health score weights file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise WeightsError(f"{path}: not valid TOML: {error}") from None
    return parse_weights(raw, str(path))
