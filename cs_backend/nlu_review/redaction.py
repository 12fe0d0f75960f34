"""What of a customer's message is kept for review: personal data replaced by labels, as in every log line
(log_redaction: email addresses, phone numbers, card numbers), and only text the database can store."""

from __future__ import annotations

from cs_backend.storable_text import unstorable_reason
from log_redaction import redact


def storable_review_text(text: str, max_length: int) -> str | None:
    """`text` redacted, on one line, cut to `max_length`; None when nothing storable is left."""
    kept = " ".join(redact(text).split())[:max_length]
    if not kept or unstorable_reason(kept) is not None:
        return None
    return kept
