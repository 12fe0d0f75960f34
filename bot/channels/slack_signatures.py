"""Whether a request really comes from Slack: its signature under the app's signing secret, made recently.

Slack signs every request it sends an app (Events API events and interactive payloads alike): the header
`X-Slack-Signature` is `v0=` and the hex HMAC-SHA256, keyed with the signing secret, of
`v0:<X-Slack-Request-Timestamp>:<raw body>` (https://api.slack.com/authentication/verifying-requests-from-slack).
A request whose timestamp is more than five minutes from this machine's clock is refused even when its
signature is right, so a recorded request cannot be replayed later.

Pure functions; bot/channels/slack.py applies them before anything reads the request.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_VERSION = "v0"
# Slack's own rule and its SDKs': a request more than five minutes old (or ahead) is a possible replay.
MAX_AGE_SECONDS = 5 * 60


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: `accepted`, or the reason it was refused (for the log: never a secret)."""

    accepted: bool
    reason: str = ""


ACCEPTED = Verdict(accepted=True)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` Slack sends with `body` at `timestamp` (as the header's text)."""
    base = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify(secret: str, timestamp: str | None, presented: str | None, body: bytes, now: float) -> Verdict:
    """Whether `body` with these headers was signed by Slack with `secret` within MAX_AGE_SECONDS of `now`."""
    if not timestamp or not presented:
        return Verdict(False, f"no {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    if not timestamp.isascii() or not timestamp.isdigit():
        return Verdict(False, f"{TIMESTAMP_HEADER} is not a number of seconds")
    age = now - int(timestamp)
    if abs(age) > MAX_AGE_SECONDS:
        return Verdict(
            False, f"stale timestamp ({age:.0f} s from this server's clock, {MAX_AGE_SECONDS} allowed)"
        )
    # Compared as bytes in constant time: a header may hold any characters.
    if not hmac.compare_digest(signature(secret, timestamp, body).encode(), presented.encode()):
        return Verdict(False, "bad signature")
    return ACCEPTED
