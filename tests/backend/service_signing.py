"""Test clients that sign their requests as a service caller does (docs/API_CONTRACT.md "Authentication").

`signing_middleware(secret)` is an aiohttp client middleware: it signs every request over the exact bytes
it is about to send. A streamed body (an async iterator) cannot be read in advance; it is signed as empty,
which is enough for the tests that send one (they check that an oversized body is refused with 413 while
being read, before its signature is compared).
"""

from __future__ import annotations

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, payload
from aiohttp.client_middlewares import ClientMiddlewareType

from cs_backend.auth.signing import signature_headers

# The secret of the apps under test (at least 32 characters, like any service secret).
TEST_SERVICE_SECRET = "test-service-secret-0123456789abcdef"


async def body_bytes(request: ClientRequest) -> bytes:
    body = request.body
    if isinstance(body, payload.Payload) and not isinstance(body, payload.AsyncIterablePayload):
        return await body.as_bytes()
    return b""


def signing_middleware(secret: str = TEST_SERVICE_SECRET) -> ClientMiddlewareType:
    async def sign_request(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        body = await body_bytes(request)
        request.headers.update(signature_headers(secret, request.method, request.url.raw_path_qs, body))
        return await handler(request)

    return sign_request
