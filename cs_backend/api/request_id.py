"""The request id (contract with the action server): `X-Request-ID` taken from the request when it is well
formed (at most 128 characters of `[A-Za-z0-9._:-]`), else a new uuid4 hex; echoed in the response's
`X-Request-ID`, and put on every log record made while the request is handled (a contextvar read by
`RequestIdFilter`), so an operator can follow one customer message from Rasa through the actions to here.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from aiohttp import web
from aiohttp.typedefs import Handler

HEADER = "X-Request-ID"
# The id on the request too: the access log runs after the contextvar is reset.
REQUEST_KEY = web.RequestKey("request_id", str)
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_from(header: str | None) -> str:
    if header is not None and _VALID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request_id_from(request.headers.get(HEADER))
    request[REQUEST_KEY] = request_id
    token = current_request_id.set(request_id)
    try:
        return await handler(request)
    finally:
        current_request_id.reset(token)


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the header goes on every answer before its headers are sent, streams and
    websockets included (a middleware would come too late for those)."""
    request_id = request.get(REQUEST_KEY)
    if request_id is not None:
        response.headers[HEADER] = request_id


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (None outside a request) to records that do not carry one already."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        return True
