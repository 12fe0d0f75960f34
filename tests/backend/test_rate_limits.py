"""Rate limits (cs_backend/ratelimit): 429 with Retry-After and the contract's JSON error, per client address,
per account, for the service and for refused credentials; sign-in attempts limited before any password is
hashed; the same limits in this process and on the real Redis (shared by two app instances), and in this
process while Redis is down. Short limits ("3/minute") keep the tests fast: nothing waits for a window."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from cs_backend.accounts import service
from cs_backend.accounts.models import Account
from cs_backend.api.openapi import build_openapi
from cs_backend.app_keys import API_ROUTES
from cs_backend.config import Settings, SettingsError
from cs_backend.main import create_app
from cs_backend.tickets.models import Ticket

from .helpers import FAST_HASHER, assert_error, ticket_payload
from .services import unique_name
from .test_accounts import PASSWORD, bearer, db_of
from .test_auth import JSON, signed_headers

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
def limited(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Settings with 3 requests a minute for every kind of caller, counted in this process or in Redis."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return dataclasses.replace(
        settings,
        redis_url=redis_url,
        rate_limit_key_prefix=unique_name("cs_test_rate"),
        rate_limit_anonymous="3/minute",
        rate_limit_account="3/minute",
        rate_limit_service="3/minute",
        rate_limit_refused_credentials="3/minute",
        rate_limit_sign_in_per_address="3/minute",
        rate_limit_sign_in_per_email="3/minute",
    )


async def unsigned_client(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings), sign=False)


async def assert_too_many(response: ClientResponse, window_seconds: int = 60) -> int:
    """The response is 429 with the contract's JSON error and a Retry-After within the window."""
    await assert_error(response, 429)
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window_seconds, retry_after
    return retry_after


async def signed_get(client: TestClient[Any, Any], path: str) -> ClientResponse:
    return await client.get(path, headers=signed_headers("GET", path))


async def new_account(client: TestClient[Any, Any], email: str) -> Account:
    return await service.create_account(db_of(client), email, "Agent", "agent", PASSWORD, FAST_HASHER)


async def test_anonymous_requests_are_limited_per_client_address(
    aiohttp_client: Any, limited: Settings
) -> None:
    client = await unsigned_client(aiohttp_client, limited)
    for _ in range(3):
        assert (await client.get("/health/live")).status == 200
    await assert_too_many(await client.get("/health/live"))
    # Every anonymous request counts, a refused one included, and a forged X-Forwarded-For changes nothing
    # without a trusted proxy.
    await assert_too_many(await client.get("/api/tickets"))
    await assert_too_many(await client.get("/health/live", headers={"X-Forwarded-For": "203.0.113.9"}))


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    aiohttp_client: Any, limited: Settings
) -> None:
    client = await unsigned_client(
        aiohttp_client, dataclasses.replace(limited, trusted_proxies=("127.0.0.0/8",))
    )
    # The proxy appends the address it saw; what the client wrote before it is not believed.
    ada = {"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}
    for _ in range(3):
        assert (await client.get("/health/live", headers=ada)).status == 200
    await assert_too_many(await client.get("/health/live", headers=ada))
    await assert_too_many(
        await client.get("/health/live", headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.1"})
    )
    assert (await client.get("/health/live", headers={"X-Forwarded-For": "203.0.113.2"})).status == 200
    # IPv6 clients count by /64.
    for suffix in ("1", "2", "3"):
        headers = {"X-Forwarded-For": f"2001:db8:1:2::{suffix}"}
        assert (await client.get("/health/live", headers=headers)).status == 200
    await assert_too_many(
        await client.get("/health/live", headers={"X-Forwarded-For": "2001:db8:1:2:ffff::9"})
    )


async def test_signed_in_people_are_limited_per_account_not_per_address(
    aiohttp_client: Any, limited: Settings
) -> None:
    client = await unsigned_client(aiohttp_client, limited)
    ada = await bearer(client, await new_account(client, "ada@example.com"))
    bob = await bearer(client, await new_account(client, "bob@example.com"))
    for _ in range(3):
        assert (await client.get("/api/auth/me", headers=ada)).status == 200
    await assert_too_many(await client.get("/api/auth/me", headers=ada))
    await assert_too_many(await client.get("/api/tickets", headers=ada))
    # Same address, another account; and the address's anonymous budget is untouched by either.
    for _ in range(3):
        assert (await client.get("/api/auth/me", headers=bob)).status == 200
    for _ in range(3):
        assert (await client.get("/health/live")).status == 200


async def test_the_service_has_its_own_limit(aiohttp_client: Any, limited: Settings) -> None:
    client = await unsigned_client(aiohttp_client, limited)
    for _ in range(3):
        assert (await signed_get(client, "/api/tickets")).status == 200
    await assert_too_many(await signed_get(client, "/api/tickets"))
    # The service's calls are not anonymous: the address can still serve anonymous requests, and people.
    agent = await bearer(client, await new_account(client, "ada@example.com"))
    assert (await client.get("/api/auth/me", headers=agent)).status == 200
    assert (await client.get("/health/live")).status == 200


async def test_an_address_whose_credentials_keep_being_refused_is_slowed_before_they_are_checked(
    aiohttp_client: Any, limited: Settings
) -> None:
    client = await unsigned_client(aiohttp_client, limited)
    good = await bearer(client, await new_account(client, "ada@example.com"))
    for guess in range(3):
        response = await client.get("/api/tickets", headers={"Authorization": f"Bearer guess-{guess}"})
        await assert_error(response, 401)
    await assert_too_many(await client.get("/api/tickets", headers={"Authorization": "Bearer guess-4"}))
    await assert_too_many(await client.get("/api/tickets", headers=signed_headers("GET", "/api/tickets")))
    await assert_too_many(await client.get("/api/tickets", headers=good))


async def test_a_write_over_the_limit_writes_nothing(aiohttp_client: Any, limited: Settings) -> None:
    client = await unsigned_client(aiohttp_client, limited)
    for _ in range(3):
        assert (await signed_get(client, "/api/tickets")).status == 200
    body = json.dumps(ticket_payload()).encode()
    response = await client.post(
        "/api/tickets", data=body, headers={**JSON, **signed_headers("POST", "/api/tickets", body)}
    )
    await assert_too_many(response)
    async with db_of(client).sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 0


@pytest.mark.redis
async def test_two_app_instances_on_one_redis_share_the_limits(
    aiohttp_client: Any, limited: Settings, redis_url: str
) -> None:
    shared = dataclasses.replace(limited, redis_url=redis_url)
    first = await unsigned_client(aiohttp_client, shared)
    second = await unsigned_client(aiohttp_client, shared)
    assert (await first.get("/health/live")).status == 200
    assert (await second.get("/health/live")).status == 200
    assert (await first.get("/health/live")).status == 200
    await assert_too_many(await second.get("/health/live"))
    await assert_too_many(await first.get("/health/live"))
    # Another deployment (key prefix) on the same Redis counts on its own.
    other = await unsigned_client(
        aiohttp_client, dataclasses.replace(shared, rate_limit_key_prefix=unique_name("o"))
    )
    assert (await other.get("/health/live")).status == 200


async def test_while_redis_is_down_each_process_limits_on_its_own(
    aiohttp_client: Any, limited: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    client = await unsigned_client(aiohttp_client, dataclasses.replace(limited, redis_url=UNREACHABLE_REDIS))
    for _ in range(3):
        assert (await client.get("/health/live")).status == 200
    await assert_too_many(await client.get("/health/live"))
    assert "rate limits: Redis unavailable, counting in this process only" in caplog.text


@pytest.fixture
def hashing_count(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each password check of a sign-in (the argon2 work)."""
    checked: list[str] = []
    real_check = service.check_password

    def counting_check(stored_hash: str | None, password: str, hasher: Any) -> bool:
        checked.append(password)
        return real_check(stored_hash, password, hasher)

    monkeypatch.setattr(service, "check_password", counting_check)
    return checked


async def sign_in(client: TestClient[Any, Any], email: str, password: str, **headers: str) -> ClientResponse:
    return await client.post("/api/auth/login", json={"email": email, "password": password}, headers=headers)


async def test_sign_in_attempts_are_limited_per_address_before_any_password_is_hashed(
    aiohttp_client: Any, limited: Settings, hashing_count: list[str]
) -> None:
    settings = dataclasses.replace(
        limited, rate_limit_anonymous="100/minute", rate_limit_sign_in_per_email="100/minute"
    )
    client = await unsigned_client(aiohttp_client, settings)
    await new_account(client, "ada@example.com")
    for attempt in range(3):
        await assert_error(await sign_in(client, f"guess{attempt}@example.com", "wrong password!"), 401)
    assert len(hashing_count) == 3
    await assert_too_many(await sign_in(client, "ada@example.com", "another guess!"))
    await assert_too_many(await sign_in(client, "ada@example.com", PASSWORD))
    await assert_too_many(
        await client.post("/api/auth/cookie-login", json={"email": "ada@example.com", "password": PASSWORD})
    )
    assert len(hashing_count) == 3, "a refused attempt hashed a password"


async def test_sign_in_attempts_are_limited_per_email_from_any_address(
    aiohttp_client: Any, limited: Settings, hashing_count: list[str]
) -> None:
    settings = dataclasses.replace(
        limited,
        trusted_proxies=("127.0.0.1",),
        rate_limit_anonymous="100/minute",
        rate_limit_sign_in_per_address="100/minute",
    )
    client = await unsigned_client(aiohttp_client, settings)
    await new_account(client, "ada@example.com")
    for attempt in range(3):
        response = await sign_in(
            client, "Ada@Example.com ", "wrong password!", **{"X-Forwarded-For": f"203.0.113.{attempt}"}
        )
        await assert_error(response, 401)
    response = await sign_in(client, "ada@example.com", PASSWORD, **{"X-Forwarded-For": "198.51.100.1"})
    await assert_too_many(response)
    assert len(hashing_count) == 3
    # Another email is not held up by ada's.
    await new_account(client, "bob@example.com")
    assert (await sign_in(client, "bob@example.com", PASSWORD)).status == 200


def test_limits_are_settings_in_the_limits_notation() -> None:
    settings = Settings.from_env(
        {
            "RATE_LIMIT_ANONYMOUS": "10/second",
            "RATE_LIMIT_SIGN_IN_PER_EMAIL": "5 per 15 minutes",
            "TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16",
            "EVENT_STREAMS_MAX": "7",
        }
    )
    assert settings.rate_limit_anonymous == "10/second"
    assert settings.rate_limit_sign_in_per_email == "5 per 15 minutes"
    assert settings.trusted_proxies == ("10.0.0.1", "192.168.0.0/16")
    assert settings.event_streams_max == 7
    defaults = Settings.from_env({})
    assert (defaults.rate_limit_anonymous, defaults.rate_limit_account, defaults.rate_limit_service) == (
        "300/minute",
        "600/minute",
        "6000/minute",
    )
    assert defaults.trusted_proxies == ()
    for name, value in (
        ("RATE_LIMIT_ACCOUNT", "lots"),
        ("RATE_LIMIT_SERVICE", "0/minute"),
        ("TRUSTED_PROXIES", "proxy.example"),
        ("EVENT_STREAMS_PER_PRINCIPAL_MAX", "0"),
        ("SESSION_COOKIE_SECURE", "sometimes"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})


def test_the_openapi_document_states_429_with_retry_after_for_every_operation() -> None:
    document = build_openapi(create_app(Settings())[API_ROUTES])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            too_many = operation["responses"].get("429")
            assert too_many is not None, f"{method} {path}"
            assert "Retry-After" in too_many["headers"], f"{method} {path}"
