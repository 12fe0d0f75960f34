"""Pages served by cs_backend: the demo product website that carries the support chat widget, the agent
console (GET /console) and the dashboard of support metrics (GET /dashboard)."""
