"""Conversation outcomes: Rasa's event stream → one outcome per conversation session.

classifier.py decides (pure, no I/O); sources.py reads Rasa's event broker (SQL table or RabbitMQ queue);
consumer.py applies the events and stores decisions, jobs.py runs it in the backend; routes.py serves them
(docs/API_ONBOARDING_OUTCOMES.md).
"""
