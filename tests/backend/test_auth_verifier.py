"""The pieces of cs_backend/auth on their own, with an injected clock: the validity window's edges, the replay
stores' expiry, the parsing of the signature header."""

from __future__ import annotations

from typing import Any

import pytest

from cs_backend.auth.replay import InProcessSeenSignatures, RedisSeenSignatures
from cs_backend.auth.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    canonical_string,
    sign,
    signature_headers,
    signature_matches,
    v1_signatures,
)
from cs_backend.auth.verifier import AuthenticationFailed, ServiceVerifier
from cs_backend.config import Settings
from cs_backend.main import create_app

from .service_signing import TEST_SERVICE_SECRET
from .services import unique_name

NOW = 1_000_000_000.0  # September 2001: far from any real clock


def verifier(clock: float = NOW) -> ServiceVerifier:
    return ServiceVerifier(TEST_SERVICE_SECRET, InProcessSeenSignatures(), clock=lambda: clock)


def test_the_canonical_string_is_the_documented_lines() -> None:
    assert canonical_string("post", "/api/x?a=1", "1700000000", "n" * 16, b"{}") == (
        b"v1\nPOST\n/api/x?a=1\n1700000000\nnnnnnnnnnnnnnnnn\n"
        b"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


@pytest.mark.parametrize("offset", [-300, 0, 300])
async def test_timestamps_within_the_window_pass(offset: int) -> None:
    headers = signature_headers(TEST_SERVICE_SECRET, "GET", "/api/tickets", now=NOW + offset)
    await verifier().verify("GET", "/api/tickets", headers, b"")


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
async def test_timestamps_outside_the_window_are_refused(offset: int) -> None:
    headers = signature_headers(TEST_SERVICE_SECRET, "GET", "/api/tickets", now=NOW + offset)
    with pytest.raises(AuthenticationFailed, match=TIMESTAMP_HEADER):
        await verifier().verify("GET", "/api/tickets", headers, b"")


async def test_a_signature_is_accepted_once() -> None:
    check = verifier()
    headers = signature_headers(TEST_SERVICE_SECRET, "POST", "/api/tickets", b"{}", now=NOW)
    await check.verify("POST", "/api/tickets", headers, b"{}")
    with pytest.raises(AuthenticationFailed, match=SIGNATURE_HEADER):
        await check.verify("POST", "/api/tickets", headers, b"{}")
    # The same request signed again (a new nonce) is a new request.
    again = signature_headers(TEST_SERVICE_SECRET, "POST", "/api/tickets", b"{}", now=NOW)
    assert again[NONCE_HEADER] != headers[NONCE_HEADER]
    await check.verify("POST", "/api/tickets", again, b"{}")


async def test_without_a_secret_nothing_passes() -> None:
    check = ServiceVerifier(None, InProcessSeenSignatures(), clock=lambda: NOW)
    headers = signature_headers(TEST_SERVICE_SECRET, "GET", "/api/tickets", now=NOW)
    with pytest.raises(AuthenticationFailed, match=SIGNATURE_HEADER):
        await check.verify("GET", "/api/tickets", headers, b"")


async def test_the_in_process_store_forgets_a_signature_once_it_expires() -> None:
    now = [100.0]
    seen = InProcessSeenSignatures(clock=lambda: now[0])
    assert await seen.first_use("a", 10)
    assert not await seen.first_use("a", 10)
    now[0] = 109.9
    assert not await seen.first_use("a", 10)
    assert await seen.first_use("b", 10)
    now[0] = 110.0
    assert await seen.first_use("a", 10)  # expired, so new again
    assert len(seen) == 2  # "b" and the new "a": expired entries do not pile up


@pytest.mark.redis
async def test_the_redis_store_refuses_a_signature_seen_by_another_instance(redis_url: str) -> None:
    prefix = unique_name("cs_test_seen") + ":"
    first, second = RedisSeenSignatures(redis_url, prefix), RedisSeenSignatures(redis_url, prefix)
    try:
        assert await first.first_use("sig", 5)
        assert not await second.first_use("sig", 5)
        assert await second.first_use("other", 5)
    finally:
        await first.close()
        await second.close()


async def test_the_redis_store_falls_back_to_this_process_while_redis_is_down() -> None:
    seen = RedisSeenSignatures("redis://127.0.0.1:1/0")
    try:
        assert await seen.first_use("sig", 5)
        assert not await seen.first_use("sig", 5)
    finally:
        await seen.close()


def test_the_signature_header_lists_versioned_entries() -> None:
    good, other = "a" * 64, "b" * 64
    assert v1_signatures(f"v1={good}") == [good]
    assert v1_signatures(f"v1={good}, v2={other},v1={other}") == [good, other]
    assert v1_signatures(f"v1={good.upper()}") == []  # lower-case hex only
    assert v1_signatures("v1=abc") == [] and v1_signatures("") == [] and v1_signatures(good) == []


def test_signature_matching_compares_every_entry() -> None:
    expected = sign(TEST_SERVICE_SECRET, "GET", "/", "1", "n" * 16, b"")
    assert signature_matches(expected, ["0" * 64, expected])
    assert not signature_matches(expected, ["0" * 64])
    assert not signature_matches(expected, [])


async def test_the_app_compares_timestamps_with_its_injected_clock(
    aiohttp_client: Any, settings: Settings
) -> None:
    late = await aiohttp_client(create_app(settings, clock=lambda: NOW))
    response = await late.get("/api/tickets")  # signed with the real time, years after NOW
    assert response.status == 401
    assert (await response.json())["error"]["message"] == f"missing or invalid {TIMESTAMP_HEADER} header"
