r"""Signs the action server's calls to cs_backend (docs/API_CONTRACT.md "Authentication"), stdlib only.

    v1\n<METHOD>\n<path?query as sent>\n<timestamp>\n<nonce>\n<SHA-256 of the body, hex>

HMAC-SHA256 of those lines with the shared secret (CS_BACKEND_SERVICE_SECRET), sent as
`X-CS-Signature: v1=<hex>` with `X-CS-Timestamp` (Unix seconds) and `X-CS-Nonce` (new for every request).
cs_backend checks it in cs_backend/auth (another interpreter and other libraries, hence this second copy of
the rules); tests/actions proves the running backend accepts what this module signs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_ENV = "CS_BACKEND_SERVICE_SECRET"
VERSION = "v1"
TIMESTAMP_HEADER = "X-CS-Timestamp"
NONCE_HEADER = "X-CS-Nonce"
SIGNATURE_HEADER = "X-CS-Signature"


def canonical_string(method: str, path_qs: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join((VERSION, method.upper(), path_qs, timestamp, nonce, body_hash)).encode()


def signature_headers(
    secret: str, method: str, path_qs: str, body: bytes = b"", *, now: float | None = None
) -> dict[str, str]:
    """The headers that sign one request; `path_qs` is the path and query exactly as they are sent."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_urlsafe(16)
    message = canonical_string(method, path_qs, timestamp, nonce, body)
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: timestamp, NONCE_HEADER: nonce, SIGNATURE_HEADER: f"{VERSION}={signature}"}
