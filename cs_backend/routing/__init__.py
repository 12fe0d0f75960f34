"""Routing of live handoffs: agents' routing profiles, teams and their business hours, handoff requests and
their queue, the choice of an agent, and the SLA timers.

selection.py holds the rules (pure, no I/O); live_state.py the live queue and presence (Redis or this
process); snapshot.py reads that state from SQL; service.py is the engine; jobs.py the SLA timers
(docs/HANDOFF.md).
"""
