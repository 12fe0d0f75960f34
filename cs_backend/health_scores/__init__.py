"""Customer health: each customer's behaviour features, a transparent weighted score 0-100 with its top
factors and a red / yellow / green band (weights.toml), its history, and the signals that rescore a customer
as soon as something happens (docs/HEALTH_SCORES.md)."""
