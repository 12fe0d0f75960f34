"""Which conversation and message the action server is working for: the request id sent to cs_backend as
`X-Request-ID` (docs/API_CONTRACT.md, "Timeouts and retries") and the `request_id` / `sender_id` of every
log record.

bot/action_server.py sets both for each call from Rasa (:func:`bind_action_call`): the request id is the id
of the user message the action answers (`tracker.latest_message.message_id`), else a new uuid4 hex; the
sender id is the conversation's. They live in context variables, so concurrent calls never mix them up, and
:func:`install_log_context` makes every log record carry them ("-" outside a call).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
# What cs_backend accepts as a request id; anything else would be replaced by one of its own.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_NONE = "-"

_request_id: ContextVar[str | None] = ContextVar("actions_request_id", default=None)
_sender_id: ContextVar[str | None] = ContextVar("actions_sender_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(candidate: Any) -> str | None:
    """`candidate` when it is a request id cs_backend keeps as it is, else None."""
    if isinstance(candidate, str) and _VALID_REQUEST_ID.fullmatch(candidate):
        return candidate
    return None


def current_request_id() -> str:
    """The request id of the action call being served; a new one outside a call (each use a new one)."""
    return _request_id.get() or new_request_id()


def current_sender_id() -> str | None:
    return _sender_id.get()


def bind(request_id: str | None, sender_id: str | None) -> None:
    """Sets the ids for the rest of this task (an action call runs in one task)."""
    _request_id.set(valid_request_id(request_id) or new_request_id())
    _sender_id.set(sender_id)


def bind_action_call(payload: Mapping[str, Any] | None) -> None:
    """Sets the ids from the body of a call from Rasa (`sender_id`, `tracker.latest_message.message_id`)."""
    payload = payload if isinstance(payload, Mapping) else {}
    tracker = payload.get("tracker")
    tracker = tracker if isinstance(tracker, Mapping) else {}
    latest = tracker.get("latest_message")
    latest = latest if isinstance(latest, Mapping) else {}
    sender = payload.get("sender_id") or tracker.get("sender_id")
    bind(latest.get("message_id"), str(sender) if sender is not None else None)


class _ContextFactory:
    """A log record factory adding `request_id` and `sender_id` to every record (the factory installed before
    it, log redaction's, still makes the record)."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.wrapped(*args, **kwargs)
        record.request_id = _request_id.get() or _NONE
        record.sender_id = _sender_id.get() or _NONE
        return record


# The action server's log line: the ids after the logger's name.
LOG_FORMAT = (
    "%(asctime)s %(levelname)-8s %(name)s [request_id=%(request_id)s sender_id=%(sender_id)s] - %(message)s"
)


def install_log_context() -> None:
    """Every log record from now on carries `request_id` and `sender_id` (once; installing again is a
    no-op)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _ContextFactory):
        logging.setLogRecordFactory(_ContextFactory(current))
