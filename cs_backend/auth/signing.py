r"""The v1 signature of a service call: its canonical string and HMAC-SHA256, as docs/API_CONTRACT.md states.

    v1\n<METHOD>\n<path?query as sent>\n<timestamp>\n<nonce>\n<SHA-256 of the body, hex>

signed with the shared secret and sent as `X-CS-Signature: v1=<hex>` next to `X-CS-Timestamp` and
`X-CS-Nonce`. The caller's side of the same rules lives in actions/api/signing.py (another interpreter, other
libraries); tests check that both agree.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

VERSION = "v1"
TIMESTAMP_HEADER = "X-CS-Timestamp"
NONCE_HEADER = "X-CS-Nonce"
SIGNATURE_HEADER = "X-CS-Signature"
# 128 random bits by default (what `new_nonce` makes); URL-safe characters only, so it needs no escaping.
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,128}")
TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,12}")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def canonical_string(method: str, path_qs: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join((VERSION, method.upper(), path_qs, timestamp, nonce, body_hash)).encode()


def sign(secret: str, method: str, path_qs: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of the canonical string."""
    message = canonical_string(method, path_qs, timestamp, nonce, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def signature_headers(
    secret: str, method: str, path_qs: str, body: bytes = b"", *, now: float | None = None
) -> dict[str, str]:
    """The headers that sign one request (a fresh nonce each time): for tests and scripts run with the
    backend's Python."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = new_nonce()
    signature = sign(secret, method, path_qs, timestamp, nonce, body)
    return {TIMESTAMP_HEADER: timestamp, NONCE_HEADER: nonce, SIGNATURE_HEADER: f"{VERSION}={signature}"}


def v1_signatures(header: str) -> list[str]:
    """The well-formed v1 signatures of an X-CS-Signature header (comma-separated `version=hex` entries, so
    that a caller can send a signature per secret or version while they are rotated)."""
    found = []
    for entry in header.split(","):
        version, _, value = entry.strip().partition("=")
        if version == VERSION and _HEX_SIGNATURE.fullmatch(value):
            found.append(value)
    return found


def signature_matches(expected: str, presented: list[str]) -> bool:
    """Constant-time comparison against every presented signature (no early exit on the first match)."""
    matched = False
    for signature in presented:
        matched |= hmac.compare_digest(expected.encode(), signature.encode())
    return matched
