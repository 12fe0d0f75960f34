"""The widget's sessions: tokens the server issues and signs, and the sender id each one stands for.

A token is `<random part>.<signature>`: 24 random bytes (`secrets`), signed with HMAC-SHA256 under
WIDGET_SESSION_SECRET, both URL-safe base64. Only the server can make a token that verifies, so a browser
cannot choose its conversation: it presents the token it was given to resume it, and anything else gets a new
one. The conversation's sender id is a second HMAC of the random part, under another context: the browser
never holds it, and a sender id (which agents see) cannot be turned back into a token.

Standard library only: the end-to-end tests (backend interpreter) derive the sender ids of their sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

SECRET_VARIABLE = "WIDGET_SESSION_SECRET"
# As long as cs_backend's service secret; the launcher generates 43 characters (32 random bytes) when unset.
MIN_SECRET_LENGTH = 32
RANDOM_BYTES = 24
# Each HMAC has its own context, so a signature is never a sender id and the reverse.
_TOKEN_CONTEXT = b"widget-session-token\x00"
_SENDER_CONTEXT = b"widget-sender-id\x00"
SENDER_ID_PREFIX = "widget-"
# 24 bytes and a 32-byte signature in unpadded URL-safe base64.
_TOKEN = re.compile(r"(?P<random>[A-Za-z0-9_-]{32})\.(?P<signature>[A-Za-z0-9_-]{43})")


class WidgetSessionSecretError(ValueError):
    """WIDGET_SESSION_SECRET is unset or too short: the widget's channel does not start without it."""


def _base64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class WidgetSessions:
    """Issues and verifies the tokens of one secret."""

    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret.strip()) < MIN_SECRET_LENGTH:
            raise WidgetSessionSecretError(
                f"{SECRET_VARIABLE} must be set to at least {MIN_SECRET_LENGTH} characters (`make run` and "
                "`python -m launcher` generate one per run; see docs/SECURITY.md)"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WidgetSessions:
        return cls(env.get(SECRET_VARIABLE, ""))

    def _mac(self, context: bytes, random_part: str) -> bytes:
        return hmac.new(self.secret.encode(), context + random_part.encode("ascii"), hashlib.sha256).digest()

    def issue(self) -> str:
        """A new token."""
        random_part = _base64(secrets.token_bytes(RANDOM_BYTES))
        return f"{random_part}.{_base64(self._mac(_TOKEN_CONTEXT, random_part))}"

    def verified(self, presented: object) -> str | None:
        """`presented` when it is a token this secret signed, else None (whatever it is)."""
        if not isinstance(presented, str):
            return None
        match = _TOKEN.fullmatch(presented)
        if match is None:
            return None
        expected = _base64(self._mac(_TOKEN_CONTEXT, match["random"]))
        return presented if hmac.compare_digest(expected, match["signature"]) else None

    def sender_id(self, token: str) -> str:
        """The sender id of a verified token's conversation."""
        random_part = token.partition(".")[0]
        return SENDER_ID_PREFIX + self._mac(_SENDER_CONTEXT, random_part).hex()[:32]
