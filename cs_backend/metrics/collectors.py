"""The metrics of one app, on a registry of its own (two apps in one process, as in tests, never mix):

- `cs_backend_http_request_duration_seconds{method,route,status}`: a histogram of every request's duration,
  labelled by the route's template (`/api/tickets/{ticket_id}`), never the raw path, so labels stay few; its
  `_count` is the request rate (`rate(..._count[5m])`).
- `cs_backend_db_pool_size`, `..._checked_out`, `..._overflow`: the SQLAlchemy pool of cs_backend's database.
- `cs_backend_outcomes_lag_events`, `..._lag_seconds`, `..._source_up`: the outcomes consumer
  (outcomes/consumer.py ConsumerLag), when its job runs.
- `cs_backend_routing_queue_depth`: handoffs waiting for an agent (one indexed count at each scrape).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import Pool

from cs_backend.outcomes.consumer import ConsumerLag

# Seconds: from a cached read to a slow handoff decision; a request past 10 s is in +Inf.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _StateCollector(Collector):
    """Reads the pool and the consumer at each scrape (nothing to keep up to date in between)."""

    def __init__(
        self, pool: Callable[[], Pool | None], consumer_lag: Callable[[], ConsumerLag | None]
    ) -> None:
        self._pool = pool
        self._consumer_lag = consumer_lag

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self._pool()
        counts = {
            "size": "Connections the database pool keeps open.",
            "checked_out": "Database connections in use by requests and jobs.",
            "overflow": "Connections opened beyond the pool's size (up to its max_overflow).",
        }
        for name, description in counts.items():
            method = getattr(pool, "checkedout" if name == "checked_out" else name, None)
            if callable(method):  # NullPool and StaticPool (SQLite in memory) count nothing
                yield GaugeMetricFamily(f"cs_backend_db_pool_{name}", description, value=float(method()))
        lag = self._consumer_lag()
        if lag is not None:
            yield GaugeMetricFamily(
                "cs_backend_outcomes_lag_events",
                "Rasa events the outcomes consumer has not read yet, as of its last read.",
                value=float(lag.events),
            )
            yield GaugeMetricFamily(
                "cs_backend_outcomes_lag_seconds",
                "Age of the oldest event of the consumer's last batch when it was applied; 0 once caught up.",
                value=lag.seconds,
            )
            yield GaugeMetricFamily(
                "cs_backend_outcomes_source_up",
                "1 when the consumer's last read reached Rasa's events (SQL table or RabbitMQ), else 0.",
                value=1.0 if lag.reachable else 0.0,
            )


class Metrics:
    def __init__(
        self, pool: Callable[[], Pool | None], consumer_lag: Callable[[], ConsumerLag | None]
    ) -> None:
        self.registry = CollectorRegistry()
        self.request_duration = Histogram(
            "cs_backend_http_request_duration_seconds",
            "Duration of HTTP requests, by method, route template and status.",
            ["method", "route", "status"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.routing_queue_depth = Gauge(
            "cs_backend_routing_queue_depth",
            "Handoffs queued for an agent (NaN when the database could not be counted).",
            registry=self.registry,
        )
        self.registry.register(_StateCollector(pool, consumer_lag))
