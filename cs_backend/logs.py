"""Logging setup and the one-line-per-request access log."""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic announces every plugin it loads at INFO; that is noise in the service log.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(logging.WARNING, logging.getLevelName(level)))


class AccessLogger(AbstractAccessLogger):
    """`METHOD /path?query STATUS 12.3ms`: enough to follow a conversation's calls, one line each."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info("%s %s %d %.1fms", request.method, request.path_qs, response.status, time * 1000)
