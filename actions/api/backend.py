"""The one client the custom actions use to talk to cs_backend (docs/API_CONTRACT.md).

- Base URL from ``CS_BACKEND_URL`` (default ``http://127.0.0.1:8000``), read when a client is created.
- Every request has a total timeout (``aiohttp.ClientTimeout``).
- Connection errors and timeouts are retried with exponential backoff (aiohttp-retry); HTTP answers, including
  4xx and 5xx, are never retried: they are final and raised as :class:`BackendError`.
- POSTs carry an ``Idempotency-Key`` (see :func:`idempotency_key`), so a retry after a timeout, or Rasa running
  the same action again for the same user message, returns the row already stored instead of a second one.
- Answers are returned as typed, frozen dataclasses.

Usage::

    async with BackendClient() as backend:
        ticket = await backend.create_ticket(description=..., email=..., idempotency_key=key)
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp_retry import ExponentialRetry, RetryClient

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
BASE_URL_ENV = "CS_BACKEND_URL"

# Errors worth trying again: the request may not have reached the backend, or its answer never came back.
# (aiohttp's ServerTimeoutError is both a ClientConnectionError and an asyncio.TimeoutError.)
RETRYABLE_EXCEPTIONS = {aiohttp.ClientConnectionError, asyncio.TimeoutError}


class BackendError(Exception):
    """cs_backend answered with an error (4xx/5xx), or could not be reached (:class:`BackendUnavailable`).

    ``status`` is the HTTP status (0 when there was no answer at all), ``message`` the backend's message, and
    ``fields`` maps each rejected field to the reason (400 validation errors).
    """

    def __init__(self, status: int, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(f"cs_backend error {status}: {message}")
        self.status = status
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})

    @property
    def is_not_found(self) -> bool:
        return self.status == 404

    @property
    def is_client_error(self) -> bool:
        """The request itself was refused (4xx): sending it again unchanged cannot help."""
        return 400 <= self.status < 500

    @property
    def is_server_error(self) -> bool:
        return self.status >= 500


class BackendUnavailable(BackendError):
    """No answer from cs_backend: connection refused/reset, DNS failure or timeout, after every retry."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


@dataclass(frozen=True)
class Ticket:
    id: int
    subject: str
    description: str
    priority: str
    status: str
    email: str
    customer_id: int | None
    conversation_id: int | None
    channel: str
    created_at: str
    updated_at: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ticket:
        return cls(
            id=int(data["id"]),
            subject=str(data.get("subject") or ""),
            description=str(data.get("description") or ""),
            priority=str(data.get("priority") or "normal"),
            status=str(data.get("status") or "open"),
            email=str(data.get("email") or ""),
            customer_id=_optional_int(data.get("customer_id")),
            conversation_id=_optional_int(data.get("conversation_id")),
            channel=str(data.get("channel") or ""),
            created_at=str(data.get("created_at") or ""),
            updated_at=str(data.get("updated_at") or data.get("created_at") or ""),
        )


@dataclass(frozen=True)
class TicketPage:
    items: tuple[Ticket, ...]
    total: int
    limit: int
    offset: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TicketPage:
        return cls(
            items=tuple(Ticket.from_json(item) for item in data.get("items") or []),
            total=int(data.get("total") or 0),
            limit=int(data.get("limit") or 0),
            offset=int(data.get("offset") or 0),
        )


@dataclass(frozen=True)
class Feedback:
    id: int
    kind: str
    score: int
    comment: str | None
    ticket_id: int | None
    conversation_id: int | None
    channel: str
    intent: str | None
    resolver: str
    created_at: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Feedback:
        return cls(
            id=int(data["id"]),
            kind=str(data.get("kind") or ""),
            score=int(data["score"]),
            comment=data.get("comment"),
            ticket_id=_optional_int(data.get("ticket_id")),
            conversation_id=_optional_int(data.get("conversation_id")),
            channel=str(data.get("channel") or ""),
            intent=data.get("intent"),
            resolver=str(data.get("resolver") or ""),
            created_at=str(data.get("created_at") or ""),
        )


@dataclass(frozen=True)
class OnboardingStep:
    """A step of the onboarding checklist (``GET /api/onboarding/steps``, ``next_step`` of a progress)."""

    key: str
    title: str
    how_to: str
    docs_url: str
    position: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OnboardingStep:
        return cls(
            key=str(data["key"]),
            title=str(data.get("title") or data["key"]),
            how_to=str(data.get("how_to") or ""),
            docs_url=str(data.get("docs_url") or ""),
            position=int(data.get("position") or 0),
        )


@dataclass(frozen=True)
class OnboardingStepState:
    """One checklist step in a customer's progress: done or not, since when, reported by whom."""

    key: str
    title: str
    done: bool
    completed_at: str | None
    source: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OnboardingStepState:
        completed_at = data.get("completed_at")
        source = data.get("source")
        return cls(
            key=str(data["key"]),
            title=str(data.get("title") or data["key"]),
            done=bool(data.get("done")),
            completed_at=None if completed_at is None else str(completed_at),
            source=None if source is None else str(source),
        )


@dataclass(frozen=True)
class OnboardingProgress:
    """A customer's onboarding progress: every step in checklist order, and the first one not done."""

    customer_id: int
    steps: tuple[OnboardingStepState, ...]
    done_count: int
    total: int
    next_step: OnboardingStep | None
    completed: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OnboardingProgress:
        steps = tuple(OnboardingStepState.from_json(item) for item in data.get("steps") or [])
        next_step = data.get("next_step")
        return cls(
            customer_id=int(data["customer_id"]),
            steps=steps,
            done_count=int(data.get("done_count") or sum(1 for step in steps if step.done)),
            total=int(data.get("total") or len(steps)),
            next_step=OnboardingStep.from_json(next_step) if next_step else None,
            completed=bool(data.get("completed")),
        )

    def step(self, key: str) -> OnboardingStepState | None:
        for state in self.steps:
            if state.key == key:
                return state
        return None

    def is_done(self, key: str) -> bool:
        state = self.step(key)
        return state is not None and state.done


@dataclass(frozen=True)
class ChurnSignal:
    """A recorded churn signal (``POST /api/churn/signals``)."""

    id: int
    customer_id: int | None
    kind: str
    reason: str | None
    outcome: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChurnSignal:
        return cls(
            id=int(data["id"]),
            customer_id=_optional_int(data.get("customer_id")),
            kind=str(data.get("kind") or ""),
            reason=data.get("reason"),
            outcome=data.get("outcome"),
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def idempotency_key(kind: str, sender_id: str, event_marker: str) -> str:
    """A stable key for "this kind of write, in this conversation, caused by this user message".

    The same inputs always give the same key (so a re-run never writes twice); the hash keeps the header short
    and ASCII whatever the sender id looks like.
    """
    digest = hashlib.sha256(f"{kind}\x1f{sender_id}\x1f{event_marker}".encode()).hexdigest()
    return f"rasa-{kind}-{digest[:48]}"


class BackendClient:
    """Typed async client for cs_backend. Use it as an async context manager (one HTTP session per use)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        attempts: int = 3,
        backoff: float = 0.25,
    ) -> None:
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._retry_options = ExponentialRetry(
            attempts=attempts,
            start_timeout=backoff,
            max_timeout=2.0,
            exceptions=RETRYABLE_EXCEPTIONS,
            statuses=set(),
            retry_all_server_errors=False,
        )
        self._client: RetryClient | None = None

    async def __aenter__(self) -> BackendClient:
        session = aiohttp.ClientSession(
            timeout=self._timeout, headers={"Accept": "application/json", "User-Agent": "acme-rasa-actions"}
        )
        self._client = RetryClient(client_session=session, retry_options=self._retry_options, logger=logger)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # --- tickets -----------------------------------------------------------------------------------------------

    async def create_ticket(
        self,
        *,
        description: str,
        email: str,
        priority: str | None = None,
        subject: str | None = None,
        sender_id: str | None = None,
        channel: str | None = None,
        idempotency_key: str | None = None,
    ) -> Ticket:
        body = _without_none(
            description=description,
            email=email,
            priority=priority,
            subject=subject,
            sender_id=sender_id,
            channel=channel,
        )
        data = await self._request("POST", "/api/tickets", json=body, idempotency_key=idempotency_key)
        return Ticket.from_json(data)

    async def get_ticket(self, ticket_id: int) -> Ticket:
        data = await self._request("GET", f"/api/tickets/{int(ticket_id)}")
        return Ticket.from_json(data)

    async def list_tickets(
        self,
        *,
        sender_id: str | None = None,
        channel: str | None = None,
        email: str | None = None,
        status: str | None = None,
        priority: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> TicketPage:
        params = _without_none(
            sender_id=sender_id,
            channel=channel,
            email=email,
            status=status,
            priority=priority,
            limit=str(limit),
            offset=str(offset),
        )
        data = await self._request("GET", "/api/tickets", params=params)
        return TicketPage.from_json(data)

    # --- feedback ----------------------------------------------------------------------------------------------

    async def create_feedback(
        self,
        *,
        score: int,
        kind: str = "csat",
        comment: str | None = None,
        ticket_id: int | None = None,
        sender_id: str | None = None,
        channel: str | None = None,
        intent: str | None = None,
        resolver: str = "bot",
        idempotency_key: str | None = None,
    ) -> Feedback:
        body = _without_none(
            kind=kind,
            score=int(score),
            comment=comment,
            ticket_id=ticket_id,
            sender_id=sender_id,
            channel=channel,
            intent=intent,
            resolver=resolver,
        )
        data = await self._request("POST", "/api/feedback", json=body, idempotency_key=idempotency_key)
        return Feedback.from_json(data)

    # --- onboarding --------------------------------------------------------------------------------------------

    async def onboarding_steps(self) -> tuple[OnboardingStep, ...]:
        """The checklist, in order."""
        data = await self._request("GET", "/api/onboarding/steps")
        steps = data.get("steps") if isinstance(data, dict) else None
        return tuple(OnboardingStep.from_json(item) for item in steps or [])

    async def onboarding_progress(self, sender_id: str, channel: str) -> OnboardingProgress:
        """The progress of the conversation's customer (an anonymous one is created on first use)."""
        params = {"sender_id": sender_id, "channel": channel}
        data = await self._request("GET", "/api/onboarding/progress", params=params)
        return OnboardingProgress.from_json(data)

    async def complete_onboarding_step(
        self,
        step: str,
        sender_id: str,
        channel: str,
        source: str = "customer",
        *,
        idempotency_key: str | None = None,
    ) -> OnboardingProgress:
        """Mark `step` done (idempotent: a step already done keeps its first completion). Unknown step: 400."""
        body = {"step": step, "sender_id": sender_id, "channel": channel, "source": source}
        data = await self._request(
            "POST", "/api/onboarding/progress", json=body, idempotency_key=idempotency_key
        )
        return OnboardingProgress.from_json(data)

    # --- churn signals -----------------------------------------------------------------------------------------

    async def record_churn_signal(
        self,
        kind: str,
        sender_id: str,
        channel: str,
        reason: str | None = None,
        outcome: str | None = None,
        intent: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> ChurnSignal:
        body = _without_none(
            kind=kind,
            sender_id=sender_id,
            channel=channel,
            reason=reason,
            outcome=outcome,
            intent=intent,
        )
        data = await self._request("POST", "/api/churn/signals", json=body, idempotency_key=idempotency_key)
        return ChurnSignal.from_json(data)

    # --- transport ---------------------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        if self._client is None:
            raise RuntimeError("BackendClient must be used as `async with BackendClient() as client:`")
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        url = f"{self.base_url}{path}"
        try:
            async with self._client.request(
                method, url, json=json, params=params, headers=headers
            ) as response:
                payload = await _read_json(response)
                if response.status >= 400:
                    raise _error_from(response.status, payload)
                return payload
        except BackendError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            # After every retry (connection problems), or a broken answer body.
            logger.warning("cs_backend unreachable: %s %s: %r", method, url, error)
            raise BackendUnavailable(f"{type(error).__name__}: {error}") from error


async def _read_json(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return None


def _error_from(status: int, payload: Any) -> BackendError:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        fields = error.get("fields") if isinstance(error.get("fields"), dict) else None
        return BackendError(status, str(error.get("message") or f"HTTP {status}"), fields)
    return BackendError(status, f"HTTP {status}")


def _without_none(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
