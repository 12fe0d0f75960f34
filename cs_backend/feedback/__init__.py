"""CSAT / CES ratings."""
