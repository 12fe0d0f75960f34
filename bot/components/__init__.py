"""Custom Rasa graph components (see config.yml)."""
