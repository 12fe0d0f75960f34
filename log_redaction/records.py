"""Redaction of every log record of the process: `install_log_redaction()`.

It wraps the logging module's record factory, so each record is redacted once, when it is made, whoever
configures the handlers and formatters afterwards (Rasa and rasa-sdk set up their own colored handlers, Sanic
its own loggers): a handler or a filter installed by us would miss the ones they add later. The record's
message (its format string with the arguments applied), its traceback and its stack are redacted; the
message's arguments are dropped only when something was replaced. Fields passed through `extra=` (Sanic's
access log's `request`) are not: keep access logs that show query strings off (docs/SECURITY.md).
"""

from __future__ import annotations

import logging
from typing import Any

from log_redaction.redactor import redact

# Formats tracebacks for the record (formatters use the record's exc_text when it is set).
_TRACEBACKS = logging.Formatter()


def redact_record(record: logging.LogRecord) -> None:
    """Replace the personal data in `record`'s message, traceback and stack, in place."""
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: logging reports it when the record is emitted
        return
    redacted = redact(message)
    if redacted != message:
        record.msg = redacted
        record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(_TRACEBACKS.formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class _RedactingFactory:
    """The record factory that was installed before, with every record it makes redacted."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.wrapped(*args, **kwargs)
        redact_record(record)
        return record


def install_log_redaction() -> None:
    """Redact every log record made in this process from now on (calling it again changes nothing)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))
