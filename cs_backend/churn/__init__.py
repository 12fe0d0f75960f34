"""Churn signals: a customer asking to cancel or downgrade, or unhappy, as the assistant heard it (with what
the retention conversation achieved); and the churn model trained from a CSV of historical customers, its
export of this product's own customers, and the active model's probability on the health response
(docs/CHURN.md)."""
