"""The rate-limit middlewares, one on each side of the auth middleware (cs_backend/auth/middlewares.py).

`address_rate_limit_middleware`, before authentication, counts by client address (client_address.py) every
request that is anonymous: a public route, no route, or no credential at all. A request that presents a
credential to a protected route is not counted there (the service's calls all come from one address), but
once the credentials sent from an address have been refused RATE_LIMIT_REFUSED_CREDENTIALS times, that
address gets 429 before its next credential is even looked up.
`caller_rate_limit_middleware`, after authentication, counts each authenticated caller: a signed-in person per
account (from any address), the service on its own, much higher limit.
Over a limit: 429 with Retry-After and the contract's JSON error; the handler does not run.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from cs_backend.api.errors import TooManyRequests
from cs_backend.app_keys import CURRENT_CALLER, RATE_LIMITER, RATE_LIMITS, ROUTE_ACCESS
from cs_backend.auth.cookies import SESSION_COOKIE
from cs_backend.auth.signing import SIGNATURE_HEADER
from cs_backend.ratelimit.client_address import client_key
from cs_backend.ratelimit.limiter import Limiter, RateLimit

SERVICE_CALLER = "service"


def too_many(retry_after_seconds: int) -> TooManyRequests:
    return TooManyRequests(f"too many requests: try again in {retry_after_seconds} s", retry_after_seconds)


async def enforce(limiter: Limiter, limit: RateLimit, key: str) -> None:
    """Counts one request for `key`; raises TooManyRequests when it is over `limit`."""
    retry_after = await limiter.hit(limit, key)
    if retry_after is not None:
        raise too_many(retry_after)


def _presents_credential(request: web.Request) -> bool:
    return (
        "Authorization" in request.headers
        or SIGNATURE_HEADER in request.headers
        or SESSION_COOKIE in request.cookies
    )


def _protected(request: web.Request) -> bool:
    # Routes outside the registry (the demo page, unmatched paths) and public ones need no credential.
    return isinstance(request.app[ROUTE_ACCESS].get(request.match_info.route), frozenset)


@web.middleware
async def address_rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    limiter = request.app[RATE_LIMITER]
    limits = request.app[RATE_LIMITS]
    address = client_key(request, limits.trusted_proxies)
    if not (_protected(request) and _presents_credential(request)):
        await enforce(limiter, limits.anonymous, address)
        return await handler(request)
    retry_after = await limiter.over(limits.refused_credentials, address)
    if retry_after is not None:
        raise too_many(retry_after)
    response = await handler(request)
    if response.status == 401:
        await limiter.hit(limits.refused_credentials, address)
    return response


@web.middleware
async def caller_rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    caller = request.get(CURRENT_CALLER)
    if caller is not None:
        limits = request.app[RATE_LIMITS]
        limit = limits.service if caller == SERVICE_CALLER else limits.account
        await enforce(request.app[RATE_LIMITER], limit, caller)
    return await handler(request)
