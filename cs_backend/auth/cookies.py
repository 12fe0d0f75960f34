"""The cookies of a browser session (POST /api/auth/cookie-login): the session token in an httpOnly cookie
that page scripts cannot read, and the CSRF token in a cookie they can, to echo in the X-CSRF-Token header of
every unsafe request (csrf.py). Both SameSite=Strict: a browser does not send them with a request another
site starts. Secure per SESSION_COOKIE_SECURE.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from datetime import datetime

from aiohttp import web

SESSION_COOKIE = "cs_session"
CSRF_COOKIE = "cs_csrf"
CSRF_HEADER = "X-CSRF-Token"
_LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain"})


def csrf_token(session_token: str) -> str:
    """The session's CSRF token: derived from the session token (HMAC), so nothing more is stored, and it
    reveals nothing of the session token."""
    digest = hmac.new(session_token.encode(), b"cs_backend csrf v1", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _host_name(host: str) -> str:
    """The Host header without its port: "[::1]:8000" -> "::1", "localhost:8000" -> "localhost"."""
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _loopback(host: str) -> bool:
    name = _host_name(host).lower()
    if name in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def secure_cookies(request: web.Request, mode: str) -> bool:
    """SESSION_COOKIE_SECURE: "true", "false", or "auto" (Secure unless the page is served on loopback)."""
    if mode == "auto":
        return not _loopback(request.host)
    return mode == "true"


def set_session_cookies(
    response: web.StreamResponse, session_token: str, expires_at: datetime, *, secure: bool
) -> str:
    """Sets both cookies, expiring with the session; returns the CSRF token."""
    token = csrf_token(session_token)
    expires = expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    for name, value, http_only in ((SESSION_COOKIE, session_token, True), (CSRF_COOKIE, token, False)):
        response.set_cookie(
            name, value, path="/", expires=expires, secure=secure, httponly=http_only, samesite="Strict"
        )
    return token


def clear_session_cookies(response: web.StreamResponse, *, secure: bool) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.del_cookie(name, path="/", secure=secure, samesite="Strict")
