"""HTTP routes of /api/auth (signing in and out) and /api/accounts (account management, admins only)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from cs_backend.accounts import service
from cs_backend.accounts.schemas import (
    AccountCreate,
    AccountOut,
    AccountPage,
    AccountQuery,
    AccountUpdate,
    CookieLoginResponse,
    LoginRequest,
    LoginResponse,
)
from cs_backend.api.registry import ADMIN, PUBLIC, STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_body, parse_id, parse_query
from cs_backend.api.responses import model_response
from cs_backend.app_keys import CURRENT_ACCOUNT, CURRENT_SESSION, DATABASE, SETTINGS
from cs_backend.auth.cookies import clear_session_cookies, csrf_token, secure_cookies, set_session_cookies
from cs_backend.ratelimit.sign_in import count_sign_in_attempt


async def _sign_in(request: web.Request) -> service.NewSession:
    data = await parse_body(request, LoginRequest)
    # Before the password is checked: an attempt over the limits costs no hashing.
    await count_sign_in_attempt(request, data.email)
    lifetime = timedelta(hours=request.app[SETTINGS].account_session_hours)
    return await service.sign_in(request.app[DATABASE], data.email, data.password, lifetime)


async def login(request: web.Request) -> web.Response:
    return model_response(LoginResponse, await _sign_in(request))


async def cookie_login(request: web.Request) -> web.Response:
    new_session = await _sign_in(request)
    response = model_response(
        CookieLoginResponse,
        {
            "csrf_token": csrf_token(new_session.token),
            "expires_at": new_session.expires_at,
            "role": new_session.role,
            "account_id": new_session.account_id,
        },
    )
    secure = secure_cookies(request, request.app[SETTINGS].session_cookie_secure)
    set_session_cookies(response, new_session.token, new_session.expires_at, secure=secure)
    return response


async def logout(request: web.Request) -> web.Response:
    await service.end_session(request.app[DATABASE], request[CURRENT_SESSION].id)
    response = web.Response(status=204)
    # A browser session's cookies go too (a bearer client has none: clearing them is harmless).
    clear_session_cookies(
        response, secure=secure_cookies(request, request.app[SETTINGS].session_cookie_secure)
    )
    return response


async def current_account(request: web.Request) -> web.Response:
    return model_response(AccountOut, request[CURRENT_ACCOUNT])


async def create_account(request: web.Request) -> web.Response:
    data = await parse_body(request, AccountCreate)
    account = await service.create_account(
        request.app[DATABASE], data.email, data.display_name, data.role, data.password
    )
    return model_response(AccountOut, account, status=201)


async def list_accounts(request: web.Request) -> web.Response:
    query = parse_query(request.query, AccountQuery)
    return model_response(AccountPage, await service.list_accounts(request.app[DATABASE], query))


async def update_account(request: web.Request) -> web.Response:
    account_id = parse_id(request, "account")
    change = await parse_body(request, AccountUpdate)
    account = await service.update_account(
        request.app[DATABASE], account_id, change, acting_account_id=request[CURRENT_ACCOUNT].id
    )
    return model_response(AccountOut, account)


ROUTES = [
    ApiRoute(
        "POST",
        "/api/auth/login",
        login,
        summary="Sign in with email and password: a bearer session token",
        tag="auth",
        description="Wrong email, wrong password and disabled account all answer the same 401. The session "
        "expires after ACCOUNT_SESSION_HOURS. Attempts are limited per client address and per email "
        "(RATE_LIMIT_SIGN_IN_PER_ADDRESS, RATE_LIMIT_SIGN_IN_PER_EMAIL): over them, 429 before the password "
        "is checked.",
        body=LoginRequest,
        responses={200: Response("Signed in: the token, shown this once.", LoginResponse)},
        errors=(400, 401, 413),
        access=PUBLIC,  # how a person gets a credential
    ),
    ApiRoute(
        "POST",
        "/api/auth/cookie-login",
        cookie_login,
        summary="Sign in from a browser page: a session in an httpOnly cookie, and its CSRF token",
        tag="auth",
        description="For the agent console's pages, whose scripts never see the session token. Sets the "
        "`cs_session` cookie (httpOnly) and the `cs_csrf` cookie (readable), both SameSite=Strict, Secure "
        "per SESSION_COOKIE_SECURE, expiring with the session. Requests with the cookie are the signed-in "
        "person's; a POST, PATCH, PUT or DELETE also needs the `X-CSRF-Token` header (403 without it, "
        "with a wrong one, or from another Origin). Same answers and limits as POST /api/auth/login.",
        body=LoginRequest,
        responses={200: Response("Signed in: the cookies are set.", CookieLoginResponse)},
        errors=(400, 401, 413),
        access=PUBLIC,  # how a person gets a credential
    ),
    ApiRoute(
        "POST",
        "/api/auth/logout",
        logout,
        summary="End the current session (its token stops working) and clear the session cookies",
        tag="auth",
        responses={204: Response("Signed out.")},
        access=STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/auth/me",
        current_account,
        summary="The signed-in account",
        tag="auth",
        responses={200: Response("The account of the session.", AccountOut)},
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/accounts",
        create_account,
        summary="Create an agent or admin account",
        tag="accounts",
        body=AccountCreate,
        responses={201: Response("Account created.", AccountOut)},
        errors=(400, 409, 413),
        access=ADMIN,
    ),
    ApiRoute(
        "GET",
        "/api/accounts",
        list_accounts,
        summary="List accounts, oldest first",
        tag="accounts",
        query=AccountQuery,
        responses={200: Response("A page of accounts.", AccountPage)},
        errors=(400,),
        access=ADMIN,
    ),
    ApiRoute(
        "PATCH",
        "/api/accounts/{id}",
        update_account,
        summary="Change an account's role, or disable or enable it",
        tag="accounts",
        description="Disabling ends every session of the account. An admin cannot disable or demote their "
        "own account (409).",
        body=AccountUpdate,
        responses={200: Response("The updated account.", AccountOut)},
        errors=(400, 404, 409, 413),
        access=ADMIN,
    ),
]
