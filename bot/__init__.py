"""Rasa-side Python of the assistant: custom NLU components, and the strict check of the training data."""
