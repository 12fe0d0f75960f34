"""The auth middleware: finds who is behind a request (a signed service call, or a person's session: a bearer
token, or a browser's session cookie) and lets the request through only when the matched route's `access`
(api/registry.py) allows them.

Runs after routing, so it knows the matched route. A request without a valid credential is answered 401 (the
contract's JSON error and a WWW-Authenticate header), an authenticated caller the route is not open to 403,
and so is a cookie-authenticated unsafe request that fails the CSRF checks (csrf.py), all before the handler,
or anything that reads the body, runs.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import MatchInfoError
from multidict import CIMultiDict

from cs_backend.accounts import service as accounts
from cs_backend.api.middlewares import error_response
from cs_backend.api.registry import SERVICE, Access, Principal
from cs_backend.app_keys import (
    CURRENT_ACCOUNT,
    CURRENT_CALLER,
    CURRENT_SESSION,
    DATABASE,
    ROUTE_ACCESS,
    SERVICE_VERIFIER,
)
from cs_backend.auth.cookies import SESSION_COOKIE
from cs_backend.auth.csrf import csrf_refusal
from cs_backend.auth.signing import SIGNATURE_HEADER, VERSION
from cs_backend.auth.verifier import AuthenticationFailed

log = logging.getLogger(__name__)

AUTH_SCHEME = "CS-HMAC-SHA256"
SERVICE_CHALLENGE = f'{AUTH_SCHEME} version="{VERSION}"'
BEARER_CHALLENGE = 'Bearer realm="cs_backend"'
_BEARER_PREFIX = "bearer "


BEARER_REFUSAL = "missing or invalid Authorization header"


def _bearer_refused(reason: str) -> AuthenticationFailed:
    return AuthenticationFailed(BEARER_REFUSAL, reason)


class CsrfRefused(Exception):
    """A cookie-authenticated unsafe request that fails the CSRF checks (403); the message is safe to show."""


async def _person_of_session(request: web.Request, token: str, refusal_message: str) -> Principal:
    found = await accounts.session_account(request.app[DATABASE], token)
    if found is None:
        # Unknown, expired, revoked or disabled: one answer; the reason goes to the log only.
        raise AuthenticationFailed(
            refusal_message, "unknown, expired or revoked session, or disabled account"
        )
    session, account = found
    request[CURRENT_SESSION] = session
    request[CURRENT_ACCOUNT] = account
    request[CURRENT_CALLER] = f"account:{account.id}"
    return "admin" if account.role == "admin" else "agent"


async def _signed_in_person(request: web.Request, authorization: str) -> Principal:
    if not authorization.lower().startswith(_BEARER_PREFIX):
        raise _bearer_refused("not a Bearer credential")
    token = authorization[len(_BEARER_PREFIX) :].strip()
    if not token:
        raise _bearer_refused("empty bearer token")
    return await _person_of_session(request, token, BEARER_REFUSAL)


async def _browser_session(request: web.Request, token: str) -> Principal:
    principal = await _person_of_session(request, token, f"missing or invalid {SESSION_COOKIE} cookie")
    refusal = csrf_refusal(request, token)
    if refusal is not None:
        raise CsrfRefused(refusal)
    return principal


async def _signed_service_call(request: web.Request) -> Principal:
    verifier = request.app[SERVICE_VERIFIER]
    # Headers first: an unsigned request is refused before its body is read.
    verifier.check_headers(request.headers)
    body = await request.read()  # kept by aiohttp: the handler reads the same bytes
    await verifier.verify(request.method, request.raw_path, request.headers, body)
    request[CURRENT_CALLER] = "service"
    return "service"


async def authenticate(request: web.Request, access: frozenset[Principal]) -> Principal:
    """The principal behind the request; raises AuthenticationFailed without a valid credential, CsrfRefused
    for a browser session's request that fails the CSRF checks. An explicit credential (a bearer token, a
    signature) wins over a session cookie the browser sends along."""
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        return await _signed_in_person(request, authorization)
    session_cookie = request.cookies.get(SESSION_COOKIE)
    if session_cookie and SIGNATURE_HEADER not in request.headers:
        return await _browser_session(request, session_cookie)
    if "service" in access or SIGNATURE_HEADER in request.headers:
        return await _signed_service_call(request)
    raise _bearer_refused("no credential")


def _challenges(access: frozenset[Principal]) -> CIMultiDict[str]:
    """One WWW-Authenticate header per scheme the route accepts."""
    headers: CIMultiDict[str] = CIMultiDict()
    if "service" in access:
        headers.add("WWW-Authenticate", SERVICE_CHALLENGE)
    if access - {"service"}:
        headers.add("WWW-Authenticate", BEARER_CHALLENGE)
    return headers


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    declared = request.app[ROUTE_ACCESS].get(request.match_info.route)
    if declared is None and isinstance(request.match_info, MatchInfoError):
        return await handler(request)  # no route matched: aiohttp's own 404/405, which reveal nothing
    # A route that declared no access is protected: one cannot be left open by forgetting.
    access: Access = SERVICE if declared is None else declared
    if not isinstance(access, frozenset):  # PUBLIC
        return await handler(request)
    try:
        principal = await authenticate(request, access)
    except AuthenticationFailed as refusal:
        log.warning("refused %s %s: %s", request.method, request.path, refusal.reason)
        return error_response(401, refusal.message, headers=_challenges(access))
    except CsrfRefused as refusal:
        log.warning("refused %s %s: %s", request.method, request.path, refusal)
        return error_response(403, str(refusal))
    if principal not in access:
        log.warning("forbidden %s %s to %s", request.method, request.path, principal)
        return error_response(403, f"this route is not open to the {principal} role")
    return await handler(request)
