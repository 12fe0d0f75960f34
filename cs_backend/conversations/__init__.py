"""Conversations: one per Rasa sender id and channel."""
