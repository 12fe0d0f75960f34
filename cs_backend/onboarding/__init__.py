"""Customer onboarding: the checklist (checklist.toml), progress per customer, stalled customers and the
nudges sent to them through Rasa (docs/API_ONBOARDING_OUTCOMES.md, "Onboarding")."""
