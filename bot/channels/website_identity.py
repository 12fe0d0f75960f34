"""The website's signed-in user, as the widget's channel verifies it (Intercom's and Chatwoot's scheme).

The site's own server computes userHash = hex HMAC-SHA256(key=WEBSITE_IDENTITY_SECRET, msg=userId) and puts
`{userId, userHash}` in the widget's config; the widget presents both at `session_request`. Only a pair that
verifies (constant-time comparison) binds the user id to the socket's session; the channel then passes it to
Rasa in the message metadata under VERIFIED_USER_KEY, a key it removes from whatever metadata the browser
sent, so a client can never claim a verified identity. cs_backend checks the same hash when a website user
asks for a link code (cs_backend/identities/website_hash.py).

Standard library only, like widget_sessions.py: the end-to-end tests (backend interpreter) compute hashes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

SECRET_VARIABLE = "WEBSITE_IDENTITY_SECRET"
# The metadata key of the verified website user id (or null for a visitor), on every message of the widget.
VERIFIED_USER_KEY = "verified_website_user"
MAX_USER_ID_LENGTH = 200


def user_hash(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class WebsiteIdentity:
    """Verifies the website's users with one secret; with none configured, every claimed user is refused."""

    secret: str | None = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebsiteIdentity:
        return cls(env.get(SECRET_VARIABLE) or None)

    def verified_user(self, user_id: object, presented_hash: object) -> str | None:
        """The user id when `presented_hash` is its HMAC under the secret, else None."""
        if not self.secret or not isinstance(user_id, str) or not isinstance(presented_hash, str):
            return None
        # As cs_backend stores it: no surrounding spaces, no NUL, at most 200 characters.
        if not user_id.strip() or user_id != user_id.strip() or "\x00" in user_id:
            return None
        if len(user_id) > MAX_USER_ID_LENGTH:
            return None
        expected = user_hash(self.secret, user_id).encode()
        try:
            presented = presented_hash.strip().lower().encode("ascii")
        except UnicodeEncodeError:
            return None
        return user_id if hmac.compare_digest(expected, presented) else None
