"""Time batch rescoring: the health score (cs_backend/health_scores/scoring.py) of CUSTOMERS generated
customers, as `python -m cs_backend health-rescore` computes it once their features are read: the vectorised
`score_batch` (weights.toml's factors and bands) and each customer's top factors. Run: `make bench-rescore`
(= `python -m benchmarks.bench_rescore`), which writes the health-rescore section of BENCHMARKS.md.

The features are drawn from a seeded generator with plausible spreads (most customers quiet and content, a
tail with open tickets, bad ratings and churn signals), so every factor and band is exercised. The SQL of the
command (reading features, writing scores and history) is not included: it is measured by the database.

The last line printed is `rescore_per_s=<n>`. Target: ≥ 10,000 customers/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.report import git_commit, replace_section
from cs_backend.health_scores.features import FEATURE_NAMES
from cs_backend.health_scores.scoring import BANDS, FloatMatrix, Scorer
from cs_backend.health_scores.weights import load_weights
from launcher.stack import REPO_ROOT

SECTION = "health-rescore"
CUSTOMERS = 100_000
ROUNDS = 5
TARGET_PER_SECOND = 10_000


def generate_features(customers: int, seed: int = 13) -> FloatMatrix:
    """`customers` rows of features, columns in FEATURE_NAMES order."""
    rng = np.random.default_rng(seed)
    n = customers
    csat_count = rng.poisson(1.0, n).astype(np.float64)
    ces_count = rng.poisson(0.6, n).astype(np.float64)
    columns = {
        "onboarding_progress": rng.integers(0, 7, n) / 6,
        "days_since_last_activity": rng.exponential(12.0, n),
        "tickets_open": rng.poisson(0.4, n),
        "tickets_90d": rng.poisson(1.2, n),
        "oldest_open_ticket_days": rng.exponential(5.0, n),
        "csat_mean_90d": np.where(csat_count > 0, rng.uniform(1, 5, n), 3.0),
        "csat_responses_90d": csat_count,
        "csat_trend": np.where(csat_count > 1, rng.normal(0, 1.0, n), 0.0),
        "ces_mean_90d": np.where(ces_count > 0, rng.uniform(1, 7, n), 4.0),
        "ces_responses_90d": ces_count,
        "handoffs_90d": rng.poisson(0.3, n),
        "repeat_contacts_30d": rng.poisson(0.5, n),
        "abandoned_30d": rng.poisson(0.2, n),
        "churn_signals_90d": rng.poisson(0.1, n),
        "monthly_revenue": rng.choice([0.0, 19.0, 49.0, 199.0], n),
        "lifetime_revenue": rng.uniform(0, 5000, n),
        "activities_30d": rng.poisson(20, n),
        "tenure_days": rng.uniform(0, 1500, n),
    }
    missing = set(FEATURE_NAMES) - set(columns)
    if missing:
        raise SystemExit(f"bench_rescore: no generator for feature(s) {', '.join(sorted(missing))}")
    return np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURE_NAMES])


def rescore(scorer: Scorer, matrix: FloatMatrix) -> list[list[dict[str, object]]]:
    """What the command computes per batch: scores and bands, then every customer's top factors."""
    return scorer.explain(scorer.score_batch(matrix), matrix)


def rescore_per_second(customers: int = CUSTOMERS, rounds: int = ROUNDS) -> tuple[float, dict[str, int]]:
    """The best of `rounds` timings, in customers per second, and the bands of the generated customers."""
    scorer = Scorer.of(load_weights())
    matrix = generate_features(customers)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        rescore(scorer, matrix)
        best = min(best, time.perf_counter() - started)
    batch = scorer.score_batch(matrix)
    counts = np.bincount(batch.band_indexes, minlength=len(BANDS))
    return customers / best, {band: int(count) for band, count in zip(BANDS, counts, strict=True)}


def render(per_second: float, bands: dict[str, int], load: str) -> str:
    measured = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = "✅" if per_second >= TARGET_PER_SECOND else "❌"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}"
    counts = ", ".join(f"{band} {bands[band]:,}" for band in ("green", "yellow", "red"))
    return f"""## Health score batch rescoring

Written by `make bench-rescore` (`python -m benchmarks.bench_rescore`, source in
`benchmarks/bench_rescore.py`); do not edit by hand. {CUSTOMERS:,} generated customers' features scored with
the bundled weights.toml (`Scorer.score_batch`, numpy) and explained (each customer's top factors), best of
{ROUNDS} rounds; the SQL of `python -m cs_backend health-rescore` is not included.

- Measured: {measured} on {machine}, numpy {np.__version__}, commit `{git_commit()}`; load average \
{load} at the end.
- Bands of the generated customers: {counts}.

Rescoring: {per_second:,.0f} customers/s. Target: ≥ {TARGET_PER_SECOND:,}/s {verdict}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    per_second, bands = rescore_per_second()
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    if not args.no_write:
        replace_section(SECTION, render(per_second, bands, load), args.output)
        print(f"wrote {args.output}")
    print(f"rescore_per_s={per_second:.0f}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    main()
