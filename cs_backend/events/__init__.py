"""Server-sent events fed by the live-events store (GET /api/events), with a cap on open streams."""
