"""The fault-injection suite (`make test-faults`, `python -m tests.faults`): simulated customers open tickets
and rate the help over Rasa's REST channel and socket.io while, one fault at a time, cs_backend or the action
server is killed with SIGKILL, Rasa is restarted, and PostgreSQL or Redis is stopped and started again. At the
end every write a customer was told about must be stored exactly once, and nothing a customer was told failed
may be stored twice.

- `stack.py`: throwaway PostgreSQL and Redis on free ports (tests/backend/throwaway_servers.py) and the three
  processes (launcher/stack.py), each its own ServiceStack so that one can be killed and started again.
- `customers.py`: a simulated customer, who answers what the assistant asks and does what it says.
- `catalogue.py`: the faults: how each is injected and recovered from.
- `ledger.py`: what was stored (PostgreSQL) against what each customer was told.
- `__main__.py`: runs it all; the last line is `faults=<n> acknowledged=<n> lost=<n> duplicated=<n>`.
"""
