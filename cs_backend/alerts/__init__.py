"""Alerts for a person: a follow-up task stored for the team (a customer's health turning red, negative
feedback with a comment), a live event, and a signed webhook (ALERT_WEBHOOK_URL, e.g. Slack) delivered with
retries from the alert_deliveries table (docs/HEALTH_SCORES.md, "Alerts")."""
