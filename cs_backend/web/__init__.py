"""Pages served by cs_backend: the demo product website that carries the support chat widget, and the agent
console (GET /console)."""
