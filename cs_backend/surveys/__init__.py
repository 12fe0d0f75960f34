"""Surveys: CSAT/CES requests tied to what happened (a ticket resolved, a handoff ended, onboarding
completed), with a per-customer cooldown, one answer per survey, delivery through Rasa retried by a job, and a
follow-up task with a negative-feedback alert for a low score with a comment (docs/API_ONBOARDING_OUTCOMES.md,
"Surveys")."""
