"""Liveness and readiness checks (GET /health/live, GET /health/ready)."""
