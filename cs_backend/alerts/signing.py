"""The alert webhook's signature (docs/HEALTH_SCORES.md, "Alert webhook"), in the style of Stripe's:

    X-CS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

The receiver recomputes the HMAC over the exact bytes it received, compares in constant time, and refuses a
timestamp further than its tolerance from its clock (a replayed old delivery). `X-CS-Delivery` carries the
delivery id, the same on every retry, so a receiver drops a delivery it has already handled.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-CS-Signature"
DELIVERY_HEADER = "X-CS-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance: float = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """Whether `header` is a valid signature of `body` made within `tolerance` seconds of `now`."""
    parts = dict(part.partition("=")[::2] for part in header.split(","))
    timestamp, given = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    expected = signature(secret, int(timestamp), body).partition(",v1=")[2]
    return hmac.compare_digest(expected, given)
