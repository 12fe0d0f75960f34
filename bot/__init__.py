"""Rasa-side Python of the assistant: the launcher that runs the whole service, and custom channels/components."""
