"""Rescoring every customer at once (`python -m cs_backend health-rescore`): after a change of weights.toml,
after an import, or every night as a safety net behind the signals. Customers are rescored in chunks of
CHUNK_SIZE (one transaction each, history reason "rescore"), with a progress bar; a customer who enters red
raises its alert as with a signal (the webhook is sent by the running backend's delivery job)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from cs_backend.alerts.service import AlertServices
from cs_backend.config import Settings
from cs_backend.db import Database
from cs_backend.health_scores import service
from cs_backend.health_scores.features import chunks
from cs_backend.health_scores.progress import ProgressBar
from cs_backend.health_scores.scoring import Scorer
from cs_backend.health_scores.weights import load_weights
from cs_backend.live_events import create_live_events

REASON = "rescore"


@dataclass
class RescoreSummary:
    customers: int = 0
    bands: Counter[str] = field(default_factory=Counter)
    alerts: int = 0

    def __str__(self) -> str:
        bands = ", ".join(f"{band} {self.bands[band]}" for band in ("green", "yellow", "red"))
        return f"rescored {self.customers} customers ({bands}); {self.alerts} red alerts raised"


async def rescore_everyone(settings: Settings, *, show_progress: bool = True) -> RescoreSummary:
    """Raises WeightsError (before touching the database) when the weights cannot be used."""
    scorer = Scorer.of(load_weights(settings.health_weights_path))
    db = Database.connect(settings.database_url)
    live_events = create_live_events(settings.redis_url, settings.redis_channel)
    alerts = AlertServices(db, live_events, settings)
    summary = RescoreSummary()
    try:
        ids = await service.every_customer_id(db)
        bar = ProgressBar(len(ids), "health-rescore") if show_progress else None
        for chunk in chunks(ids):
            rescored = await service.rescore(db, scorer, chunk, REASON)
            summary.customers += len(rescored)
            summary.bands.update(change.band for change in rescored)
            summary.alerts += await service.alert_on_red(alerts, rescored)
            if bar is not None:
                bar.advance(len(chunk))
        if bar is not None:
            bar.finish()
    finally:
        await live_events.close()
        await db.dispose()
    return summary
