"""Churn signals: a customer asking to cancel or downgrade, or unhappy, as the assistant heard it (with what
the retention conversation achieved). Input for the churn / health score (docs/API_ONBOARDING_OUTCOMES.md,
"Churn signals")."""
