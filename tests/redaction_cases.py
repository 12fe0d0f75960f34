"""What log redaction (log_redaction/) must replace and must keep: shared by tests/bot (spaCy 3.4, Rasa's pin)
and tests/backend (spaCy 3.8), so the one module is checked in both environments. Standard library only."""

from __future__ import annotations

# (log line, the line as it must be logged)
REDACTED = [
    ("my email is ada@example.com.", "my email is [email]."),
    ("Reply to Ada.Lovelace+support@mail.example.co.uk please", "Reply to [email] please"),
    ('{"email": "ada@example.com", "priority": "high"}', '{"email": "[email]", "priority": "high"}'),
    ("mailto:ada@example.com", "mailto:[email]"),
    ("user said 'grace@example.org'", "user said '[email]'"),
    ("call +44 20 7946 0958 today", "call [phone] today"),
    ("+1-555-123-4567", "[phone]"),
    ("+33 6 12 34 56 78", "[phone]"),
    ("+49 (0)30 1234 5678", "[phone]"),
    ("tel:+15551234567", "tel:[phone]"),
    ("my number: (555) 123-4567", "my number: [phone]"),
    ("ring 555-123-4567 or 020 7946 0958", "ring [phone] or [phone]"),
    ("fax 555.123.4567", "fax [phone]"),
    ("my phone number is 07700900123", "my phone number is [phone]"),
    ("call me on 5551234", "call me on [phone]"),
    ("card 4111 1111 1111 1111 expires soon", "card [card] expires soon"),
    ("card 4111-1111-1111-1111", "card [card]"),
    ("paid with 5500005555555559", "paid with [card]"),
    ("amex 3782 822463 10005", "amex [card]"),
    (
        "ada@example.com, +44 20 7946 0958 and 4111 1111 1111 1111 in one line",
        "[email], [phone] and [card] in one line",
    ),
]

# Lines that must be logged exactly as they are.
KEPT = [
    "order 123456789012 shipped",  # an order number: a plain run of digits is no phone
    "order 4111111111111112 is late",  # 16 digits, not a card: fails the Luhn check
    "card-like 4111 1111 1111 1112",  # grouped, but fails the Luhn check (and is too long for a phone)
    "ticket #1234 is open",
    "ticket 98765432 was resolved",
    "order ORD-2024-001234",
    "on 2026-11-30 at 10:30:15",
    "due 30.11.2026 or 11/30/2026",
    "amount $1,234.56 and €99.90",
    "GET /api/tickets?email=… 200 3.2ms",
    "timestamp 1795335023.3176658",
    "event at 1795335023.31, took 1234567.89 ms",
    "onboarding nudges: 3 sent, 0 failed",
    "an @ sign alone, and user@localhost",
]
