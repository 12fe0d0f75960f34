"""Logging setup (personal data redacted from every record: log_redaction) and the one-line-per-request
access log."""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from log_redaction import install_log_redaction


def configure_logging(level: str) -> None:
    # Before any handler exists: every record the process makes has emails, phones and cards replaced.
    install_log_redaction()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic announces every plugin it loads at INFO; that is noise in the service log.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def loggable_target(request: BaseRequest) -> str:
    """The path with the query's parameter names only: values (an email, a sender id) never reach the log."""
    if not request.query:
        return request.path
    return request.path + "?" + "&".join(f"{name}=…" for name in dict.fromkeys(request.query))


class AccessLogger(AbstractAccessLogger):
    """`METHOD /path?name=… STATUS 12.3ms`: enough to follow a conversation's calls, one line each."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        target = loggable_target(request)
        self.logger.info("%s %s %d %.1fms", request.method, target, response.status, time * 1000)
