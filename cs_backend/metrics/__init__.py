"""Prometheus metrics of cs_backend: GET /metrics (routes.py, bearer METRICS_TOKEN), the request metrics
middleware (middlewares.py) and what is read at each scrape (collectors.py)."""
