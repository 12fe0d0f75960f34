"""Customer segments: K-means on the customers' behaviour features (cs_backend/health_scores/features.py),
each cluster named from its centroid by fixed rules (at-risk, high-value, new, silent, engaged, steady),
one stored run per recompute (`python -m cs_backend segments-recompute`), the latest served by
GET /api/segments."""
