"""Alerts for a person: a follow-up task stored for the team (a customer's health turning red, negative
feedback with a comment), a live event, and a signed webhook (ALERT_WEBHOOK_URL, such as a Slack incoming
webhook) delivered with retries from the alert_deliveries table (docs/HEALTH_SCORES.md, "Alerts")."""
