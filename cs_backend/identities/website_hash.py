"""The website's proof of its user: userHash = hex HMAC-SHA256(key=WEBSITE_IDENTITY_SECRET, msg=userId),
made by the site's own server (the scheme Intercom and Chatwoot use). The same check runs in Rasa's socket.io
channel (bot/channels/website_identity.py) and here, where a user asks for a link code."""

from __future__ import annotations

import hashlib
import hmac


def user_hash(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verified(secret: str | None, user_id: str, presented_hash: str) -> bool:
    """Whether `presented_hash` is the user's hash under `secret`, compared in constant time; never with no
    secret configured."""
    if not secret:
        return False
    expected = user_hash(secret, user_id).encode()
    return hmac.compare_digest(expected, presented_hash.strip().lower().encode())
