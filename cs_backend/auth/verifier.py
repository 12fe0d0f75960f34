"""Checks one service call: its headers, its timestamp within the window, its signature, and that it is new.

Each refusal names only the header that is wrong; why (stale, mismatched, replayed, no secret configured) goes
to the server log only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from cs_backend.auth.replay import SeenSignatures
from cs_backend.auth.signing import (
    NONCE_HEADER,
    NONCE_PATTERN,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TIMESTAMP_PATTERN,
    sign,
    signature_matches,
    v1_signatures,
)

# How far a request's timestamp may be from this server's clock, either way.
SIGNATURE_WINDOW_SECONDS = 300.0


class AuthenticationFailed(Exception):
    """A request without a valid credential (401); the message is safe to show to the client."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        # For the server log only.
        self.reason = reason


def _invalid(header: str, reason: str) -> AuthenticationFailed:
    return AuthenticationFailed(f"missing or invalid {header} header", reason)


class ServiceVerifier:
    """Verifies signed service calls with one secret (None: no call is accepted)."""

    def __init__(
        self,
        secret: str | None,
        seen: SeenSignatures,
        *,
        window_seconds: float = SIGNATURE_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._seen = seen
        self._window_seconds = window_seconds
        self._clock = clock

    def check_headers(self, headers: Mapping[str, str]) -> tuple[str, str, list[str]]:
        """The timestamp, nonce and v1 signatures, checked before the body is read."""
        signatures = v1_signatures(headers.get(SIGNATURE_HEADER, ""))
        if not signatures:
            raise _invalid(SIGNATURE_HEADER, "no well-formed v1 signature")
        if self._secret is None:
            raise _invalid(SIGNATURE_HEADER, "CS_BACKEND_SERVICE_SECRET is not set: no signature is valid")
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        if not TIMESTAMP_PATTERN.fullmatch(timestamp):
            raise _invalid(TIMESTAMP_HEADER, "malformed timestamp")
        if abs(self._clock() - int(timestamp)) > self._window_seconds:
            raise _invalid(TIMESTAMP_HEADER, "timestamp outside the validity window")
        nonce = headers.get(NONCE_HEADER, "")
        if not NONCE_PATTERN.fullmatch(nonce):
            raise _invalid(NONCE_HEADER, "malformed nonce")
        return timestamp, nonce, signatures

    async def verify(self, method: str, path_qs: str, headers: Mapping[str, str], body: bytes) -> None:
        """Returns when the request is signed, fresh and new; raises AuthenticationFailed otherwise."""
        timestamp, nonce, signatures = self.check_headers(headers)
        if self._secret is None:  # already refused by check_headers; repeated for the type checker
            raise _invalid(SIGNATURE_HEADER, "CS_BACKEND_SERVICE_SECRET is not set")
        expected = sign(self._secret, method, path_qs, timestamp, nonce, body)
        if not signature_matches(expected, signatures):
            raise _invalid(SIGNATURE_HEADER, "signature does not match")
        # Kept for as long as its timestamp could still pass, from whichever side of the window it is.
        if not await self._seen.first_use(expected, 2 * self._window_seconds):
            raise _invalid(SIGNATURE_HEADER, "signature already used (replay)")

    async def close(self) -> None:
        await self._seen.close()
