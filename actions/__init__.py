"""Custom actions of the Acme Cloud support assistant (run by `rasa run actions --actions actions`).

Thin by design: parse and validate what the user said (actions/parsing.py), call cs_backend through the one
client (actions/api/client.py), and report the outcome through slots that the rules turn into responses.
"""
