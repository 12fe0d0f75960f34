"""The limits on sign-in attempts, checked before the password is: an attempt over them gets 429 without any
argon2 work, so guessing is slow and cannot exhaust the CPU. Counted per client address and per email (its
SHA-256, so no address sits in Redis), whatever the outcome of the attempt."""

from __future__ import annotations

import hashlib

from aiohttp import web

from cs_backend.api.errors import TooManyRequests
from cs_backend.app_keys import RATE_LIMITER, RATE_LIMITS
from cs_backend.ratelimit.client_address import client_key


async def count_sign_in_attempt(request: web.Request, email: str) -> None:
    """Raises TooManyRequests when this attempt is over a sign-in limit."""
    limiter = request.app[RATE_LIMITER]
    limits = request.app[RATE_LIMITS]
    email_key = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    # The address first: an address over its limit adds nothing to the count of the emails it tries.
    for limit, key in (
        (limits.sign_in_per_address, client_key(request, limits.trusted_proxies)),
        (limits.sign_in_per_email, email_key),
    ):
        retry_after = await limiter.hit(limit, key)
        if retry_after is not None:
            raise TooManyRequests(f"too many sign-in attempts: try again in {retry_after} s", retry_after)
