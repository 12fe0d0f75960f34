"""The one client the custom actions use to talk to cs_backend (docs/API_CONTRACT.md).

- Base URL from ``CS_BACKEND_URL`` (default ``http://127.0.0.1:8000``), read when a client is created.
- Every request is signed with ``CS_BACKEND_SERVICE_SECRET`` (actions/api/signing.py), over the exact bytes
  sent; each attempt is signed as it starts, so a retry carries a fresh timestamp and nonce.
- Every request has a total timeout (``aiohttp.ClientTimeout``).
- Connection errors and timeouts are retried with exponential backoff (aiohttp-retry); HTTP answers, including
  4xx and 5xx, are never retried: they are final and raised as :class:`BackendError`.
- POSTs that create a row carry an ``Idempotency-Key`` (built by ``actions.common.make_idempotency_key``), so
  a retry after a timeout, or Rasa running the same action again for the same user message, returns the row
  already stored instead of a second one; starting onboarding and completing a step are idempotent by
  themselves.
- Answers are decoded strictly into the models of actions/api/models.py: an answer that breaks the contract
  is logged with every broken field and raised as :class:`BackendContractError`.

Usage::

    async with BackendClient() as backend:
        ticket = await backend.create_ticket(description=..., email=..., idempotency_key=key)
"""

from __future__ import annotations

import asyncio
import json as json_module
import logging
import os
from collections.abc import Mapping
from types import SimpleNamespace, TracebackType
from typing import Any, TypeVar

import aiohttp
from aiohttp_retry import ExponentialRetry, RetryClient
from pydantic import ValidationError

from actions.api.errors import BackendContractError, BackendError, BackendUnavailable
from actions.api.models import (
    BackendModel,
    ChurnSignal,
    ErrorResponse,
    Feedback,
    Handoff,
    OnboardingChecklist,
    OnboardingProgress,
    OnboardingStep,
    RelayedMessage,
    Survey,
    Ticket,
    TicketPage,
)
from actions.api.signing import SECRET_ENV, signature_headers

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
BASE_URL_ENV = "CS_BACKEND_URL"

# Errors worth trying again: the request may not have reached the backend, or its answer never came back.
# (aiohttp's ServerTimeoutError is both a ClientConnectionError and an asyncio.TimeoutError.)
RETRYABLE_EXCEPTIONS: set[type[Exception]] = {aiohttp.ClientConnectionError, asyncio.TimeoutError}

AnswerT = TypeVar("AnswerT", bound=BackendModel)

# Where `_request` hands the body bytes to the signing trace (aiohttp's trace_request_ctx).
_SIGNED_BODY = "signed_body"


def _signing_trace(secret: str) -> aiohttp.TraceConfig:
    """Signs each attempt when it starts, over the URL it is sent to and the body `_request` passes along."""

    async def sign(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        request_context = context.trace_request_ctx or {}
        body: bytes = request_context.get(_SIGNED_BODY, b"")
        # The headers the request is about to be built with (aiohttp passes the same mapping on).
        params.headers.update(signature_headers(secret, params.method, params.url.raw_path_qs, body))

    trace = aiohttp.TraceConfig()
    # aiohttp 3.9 annotates its trace signals as holding callbacks of callbacks; `sign` is what it calls.
    trace.on_request_start.append(sign)  # type: ignore[arg-type]
    return trace


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
        service_secret: str | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        # Without a secret the requests go unsigned, and cs_backend refuses them (401).
        self._service_secret = service_secret or os.environ.get(SECRET_ENV, "").strip() or None
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
        if self._service_secret is None:
            logger.warning("%s is not set: cs_backend will refuse the actions' requests", SECRET_ENV)
        session = aiohttp.ClientSession(
            timeout=self._timeout,
            headers={"Accept": "application/json", "User-Agent": "acme-rasa-actions"},
            trace_configs=[_signing_trace(self._service_secret)] if self._service_secret else None,
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

    # --- tickets --------------------------------------------------------------------------------------------

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
        return await self._request(Ticket, "POST", "/api/tickets", json=body, idempotency_key=idempotency_key)

    async def get_ticket(self, ticket_id: int) -> Ticket:
        return await self._request(Ticket, "GET", f"/api/tickets/{int(ticket_id)}")

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
        return await self._request(TicketPage, "GET", "/api/tickets", params=params)

    # --- feedback -------------------------------------------------------------------------------------------

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
        agent_id: int | None = None,
        handoff_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> Feedback:
        """Stores a rating. With resolver "agent" it is about a person's help: `agent_id` and `handoff_id`
        name the agent and the handoff (when known)."""
        body = _without_none(
            kind=kind,
            score=int(score),
            comment=comment,
            ticket_id=ticket_id,
            sender_id=sender_id,
            channel=channel,
            intent=intent,
            resolver=resolver,
            agent_id=agent_id,
            handoff_id=handoff_id,
        )
        return await self._request(
            Feedback, "POST", "/api/feedback", json=body, idempotency_key=idempotency_key
        )

    # --- surveys (docs/API_ONBOARDING_OUTCOMES.md, "Surveys") ---------------------------------------------

    async def open_survey(self, *, trigger: str, subject_id: int, sender_id: str, channel: str) -> Survey:
        """The survey of a handoff that ended or of onboarding completed, asked in this conversation: one per
        subject (opening it again answers the same one); `ask` is false within the customer's cooldown or once
        it is answered. No Idempotency-Key: the subject makes it idempotent."""
        body = {"trigger": trigger, "subject_id": int(subject_id), "sender_id": sender_id, "channel": channel}
        return await self._request(Survey, "POST", "/api/surveys", json=body)

    async def get_survey(self, survey_id: int) -> Survey:
        return await self._request(Survey, "GET", f"/api/surveys/{int(survey_id)}")

    async def answer_survey(
        self, survey_id: int, *, csat: int | None = None, ces: int | None = None, comment: str | None = None
    ) -> Survey:
        """Records the answer; answering again replaces it (one CSAT and one CES per survey), so a retry is
        harmless. A low score with a comment reaches a person (a follow-up task)."""
        body = _without_none(csat=csat, ces=ces, comment=comment)
        return await self._request(Survey, "POST", f"/api/surveys/{int(survey_id)}/answers", json=body)

    # --- live handoff (docs/HANDOFF.md) ---------------------------------------------------------------------

    async def request_handoff(
        self,
        *,
        sender_id: str,
        channel: str,
        reason: str,
        email: str | None = None,
        language: str = "en",
        skill: str | None = None,
        priority: str = "normal",
        detail: str | None = None,
        idempotency_key: str | None = None,
    ) -> Handoff:
        """Hands the conversation to a person. The answer is queued or assigned, or closed as `unavailable`
        (nobody can take it now) with the ticket created when the email was known."""
        body = _without_none(
            sender_id=sender_id,
            channel=channel,
            email=email,
            language=language,
            skill=skill,
            priority=priority,
            reason=reason,
            detail=detail,
        )
        return await self._request(
            Handoff, "POST", "/api/routing/handoffs", json=body, idempotency_key=idempotency_key
        )

    async def handoff_ticket(self, handoff_id: int, *, email: str) -> Handoff:
        """The ticket carrying the conversation of a handoff closed as unavailable, now that the email is
        known; a 409 when the handoff was not closed as unavailable. No Idempotency-Key: a handoff has one
        ticket at most, so a retry answers the same ticket."""
        return await self._request(
            Handoff, "POST", f"/api/routing/handoffs/{int(handoff_id)}/ticket", json={"email": email}
        )

    async def relay_customer_message(
        self, handoff_id: int, *, text: str, message_id: str | None = None
    ) -> RelayedMessage:
        """Passes the customer's message to the handoff's agent; `message_id` (Rasa's) makes a retry store it
        once. `stored` is false when the handoff is already over."""
        body = _without_none(text=text, message_id=message_id)
        return await self._request(
            RelayedMessage, "POST", f"/api/routing/handoffs/{int(handoff_id)}/customer-messages", json=body
        )

    async def active_handoff(self, sender_id: str) -> Handoff | None:
        """The conversation's handoff that is queued, assigned or accepted; None when there is none (404)."""
        try:
            return await self._request(
                Handoff,
                "GET",
                "/api/routing/conversations/active-handoff",
                params={"sender_id": sender_id},
            )
        except BackendError as error:
            if error.is_not_found:
                return None
            raise

    # --- onboarding -----------------------------------------------------------------------------------------

    async def onboarding_steps(self) -> tuple[OnboardingStep, ...]:
        """The checklist, in order."""
        checklist = await self._request(OnboardingChecklist, "GET", "/api/onboarding/steps")
        return checklist.steps

    async def onboarding_progress(self, sender_id: str, channel: str) -> OnboardingProgress:
        """The progress of the conversation's customer, reading only: a conversation without a customer yet
        has done nothing (`customer_id` None)."""
        params = {"sender_id": sender_id, "channel": channel}
        return await self._request(OnboardingProgress, "GET", "/api/onboarding/progress", params=params)

    async def start_onboarding(self, sender_id: str, channel: str) -> OnboardingProgress:
        """The conversation's customer engages with onboarding: the backend creates the conversation and an
        anonymous customer if missing (so its nudge job can follow up), and answers the progress.
        Idempotent: starting again changes nothing."""
        body = {"sender_id": sender_id, "channel": channel}
        return await self._request(OnboardingProgress, "POST", "/api/onboarding/start", json=body)

    async def complete_onboarding_step(
        self,
        step: str,
        sender_id: str,
        channel: str,
        source: str = "customer",
        *,
        idempotency_key: str | None = None,
    ) -> OnboardingProgress:
        """Mark `step` done (idempotent: a step already done keeps its first completion).

        An unknown step is refused (400)."""
        body = {"step": step, "sender_id": sender_id, "channel": channel, "source": source}
        return await self._request(
            OnboardingProgress, "POST", "/api/onboarding/progress", json=body, idempotency_key=idempotency_key
        )

    # --- churn signals --------------------------------------------------------------------------------------

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
        return await self._request(
            ChurnSignal, "POST", "/api/churn/signals", json=body, idempotency_key=idempotency_key
        )

    # --- transport ------------------------------------------------------------------------------------------

    async def _request(
        self,
        answer: type[AnswerT],
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> AnswerT:
        """Sends the request and decodes a successful answer as `answer`; every failure is a BackendError."""
        if self._client is None:
            raise RuntimeError("BackendClient must be used as `async with BackendClient() as client:`")
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        # Serialised here, so that the signature covers exactly the bytes sent.
        body = json_module.dumps(json).encode() if json is not None else b""
        if json is not None:
            headers["Content-Type"] = "application/json"
        url = f"{self.base_url}{path}"
        request = f"{method} {path}"
        try:
            async with self._client.request(
                method,
                url,
                data=body if json is not None else None,
                params=params,
                headers=headers,
                trace_request_ctx={_SIGNED_BODY: body},
            ) as response:
                status = response.status
                payload = await _read_json(response)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            # After every retry (connection problems), or a broken answer body.
            logger.warning("cs_backend unreachable: %s %s: %r", method, url, error)
            raise BackendUnavailable(f"{type(error).__name__}: {error}") from error
        if status >= 400:
            raise _error_from(status, payload, request)
        return _decode(answer, status, payload, request)


async def _read_json(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return None


def _decode(answer: type[AnswerT], status: int, payload: Any, request: str) -> AnswerT:
    try:
        return answer.parse_obj(payload)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        ]
        logger.error(
            "cs_backend broke its contract: %s answered %s, not a valid %s: %s",
            request,
            status,
            answer.__name__,
            "; ".join(problems),
        )
        raise BackendContractError(
            status, f"{request} answered something that is not a valid {answer.__name__}", problems
        ) from error


def _error_from(status: int, payload: Any, request: str) -> BackendError:
    """The error for a 4xx/5xx answer. Its status alone decides what the actions do, so a body that is not the
    contract's error body (a proxy's HTML page, say) loses only the details, and is logged."""
    try:
        detail = ErrorResponse.parse_obj(payload).error
    except ValidationError as error:
        logger.warning(
            "%s answered %s without the contract's error body: %s", request, status, error.errors()
        )
        return BackendError(status, f"HTTP {status}")
    return BackendError(status, detail.message or f"HTTP {status}", detail.fields)


def _without_none(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
