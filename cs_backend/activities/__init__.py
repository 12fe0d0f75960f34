"""Product activity events of a customer (logins, features used, payments) posted by the product: the activity
recency and the revenue (monthly revenue, lifetime value) of the health score (docs/HEALTH_SCORES.md)."""
