"""Rasa-side Python of the assistant: custom NLU components, the checked customer channels, the strict check
of the training data, and the token-locked starters of the Rasa server (rasa_server.py) and the action server
(action_server.py)."""
