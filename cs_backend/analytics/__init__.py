"""Customer-support analytics (read-only): CSAT, CES, containment, handoff rate, first-contact resolution,
response and resolution times, retention and lifetime value, by period, intent, channel or agent
(docs/METRICS.md)."""
