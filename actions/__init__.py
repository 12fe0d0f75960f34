"""Custom actions of the Acme Cloud support assistant (served by the token-checked action server,
`python -m bot.action_server`).

Thin by design: parse and validate what the user said (actions/parsing.py), call cs_backend through the one
client (actions/api/client.py), and report the outcome through slots that the rules turn into responses.
"""
