"""Cross-site request forgery checks of cookie-authenticated requests (a bearer token or a signature is never
sent by a browser on its own, so those need none).

An unsafe method (anything but GET, HEAD, OPTIONS) passes only when
- its Origin header, if any, names this site (the Host the request was sent to), and its Sec-Fetch-Site, if
  any, is same-origin; and
- its X-CSRF-Token header equals the session's CSRF token (cookies.csrf_token), compared in constant time: a
  page of another site can make the browser send the cookies, but cannot read them to write the header.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from aiohttp import web

from cs_backend.auth.cookies import CSRF_HEADER, csrf_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.netloc.lower() == host.lower()


def csrf_refusal(request: web.Request, session_token: str) -> str | None:
    """Why this cookie-authenticated request is refused (a message safe to show), or None."""
    if request.method in SAFE_METHODS:
        return None
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin, request.host):
        return "cross-origin request refused"
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return "cross-origin request refused"
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), csrf_token(session_token).encode()):
        return f"missing or invalid {CSRF_HEADER} header"
    return None
