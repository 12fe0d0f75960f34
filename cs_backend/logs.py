"""Logging setup (personal data redacted from every record: log_redaction), the record format (LOG_FORMAT:
one JSON object per line, or the text lines for people at a terminal), the request id on every record
(api/request_id.py) and the one-line-per-request access log."""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from pythonjsonlogger.json import JsonFormatter

from cs_backend.api.request_id import REQUEST_KEY, RequestIdFilter
from log_redaction import install_log_redaction

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ["levelname", "name", "message", "request_id"]
LOG_FORMATS = ("json", "text")


class _TextFormatter(logging.Formatter):
    """Today's text lines, with ` [request id]` after the message of the records made during a request."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [{request_id}]" if request_id else line


def log_formatter(log_format: str) -> logging.Formatter:
    if log_format == "text":
        return _TextFormatter(TEXT_FORMAT)
    # `time` in ISO 8601 UTC; fields passed with extra= (the access log's status, ...) become keys.
    return JsonFormatter(
        JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"}, timestamp="time"
    )


class _ServiceHandler(logging.StreamHandler):
    """cs_backend's own handler on stderr (recognised when logging is configured again)."""


def configure_logging(level: str, log_format: str = "json") -> None:
    # Before any handler exists: every record the process makes has emails, phones and cards replaced.
    install_log_redaction()
    root = logging.getLogger()
    for installed in [h for h in root.handlers if isinstance(h, _ServiceHandler)]:
        root.removeHandler(installed)  # configured again (a second app): one line per record still
    handler = _ServiceHandler()
    handler.setFormatter(log_formatter(log_format))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)  # beside any other (pytest's capture), which basicConfig(force=True) would drop
    root.setLevel(level)
    # Alembic announces every plugin it loads at INFO; that is noise in the service log.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def loggable_target(request: BaseRequest) -> str:
    """The path with the query's parameter names only: values (an email, a sender id) never reach the log."""
    if not request.query:
        return request.path
    return request.path + "?" + "&".join(f"{name}=…" for name in dict.fromkeys(request.query))


class AccessLogger(AbstractAccessLogger):
    """`METHOD /path?name=… STATUS 12.3ms`: enough to follow a conversation's calls, one line each; with the
    request's id (logged after the handler, so taken from the request, not the contextvar)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        target = loggable_target(request)
        request_id = request.get(REQUEST_KEY)
        self.logger.info(
            "%s %s %d %.1fms",
            request.method,
            target,
            response.status,
            time * 1000,
            extra={"request_id": request_id, "status": response.status, "duration_ms": round(time * 1000, 1)},
        )
