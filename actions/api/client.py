"""The one client the custom actions use to talk to cs_backend (docs/API_CONTRACT.md).

- Base URL from ``CS_BACKEND_URL`` (default ``http://127.0.0.1:8000``), read when a client is created.
- Every request is signed with ``CS_BACKEND_SERVICE_SECRET`` (actions/api/signing.py), over the exact bytes
  sent; each attempt is signed as it starts, so a retry carries a fresh timestamp and nonce. Every request
  carries ``X-Request-ID``: the id of the Rasa message the action answers (actions/api/request_context.py).
- Timeouts and retries (the numbers, with the backend's: docs/API_CONTRACT.md, "Timeouts and retries"):
  each attempt has a total timeout longer than the backend's longest wait for its database, and a request's
  attempts fit in one budget. Connection errors, timeouts, 502/503/504 and 429 are tried again with
  exponential backoff, or after the answer's ``Retry-After`` when it is short (2 s at most) and fits in the
  budget; any other answer is final.
- Writes (tickets, ratings, survey answers, churn signals, onboarding start and steps, website bindings)
  carry an ``Idempotency-Key`` (built by ``actions.common.make_idempotency_key``), so a retry after a
  timeout, or Rasa running the same action again for the same user message, returns the row already stored
  instead of a second one (routes idempotent by their state, like survey answers, ignore the header). A
  write that cannot be confirmed (no answer, a 5xx or 429 after the retries, a 401/403, an answer that
  breaks the contract) is kept in the outbox (actions/api/outbox.py) and returned as :class:`Queued`: the
  replayer delivers it later under the same key. Only a refusal of what was sent (400, 404, 409, 413, 415,
  422) raises BackendError; an outbox that cannot store raises :class:`WriteNotQueued`.
- Answers are decoded strictly into the models of actions/api/models.py: an answer that breaks the contract
  is logged with every broken field and raised as :class:`BackendContractError`.

Usage::

    async with BackendClient() as backend:
        ticket = await backend.create_ticket(description=..., email=..., idempotency_key=key)
        if isinstance(ticket, Queued): ...  # kept, will reach the team shortly
"""

from __future__ import annotations

import asyncio
import json as json_module
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace, TracebackType
from typing import Any, TypeVar

import aiohttp
from pydantic import ValidationError

from actions.api import metrics
from actions.api.errors import BackendContractError, BackendError, BackendUnavailable, WriteNotQueued
from actions.api.models import (
    BackendModel,
    ChurnSignal,
    ErrorResponse,
    Feedback,
    Handoff,
    LinkedAccount,
    OnboardingChecklist,
    OnboardingProgress,
    OnboardingStep,
    RelayedMessage,
    Survey,
    Ticket,
    TicketPage,
    WebsiteBinding,
)
from actions.api.outbox import Outbox, OutboxEntry, OutboxError, default_outbox
from actions.api.request_context import REQUEST_ID_HEADER, current_request_id
from actions.api.signing import SECRET_ENV, signature_headers

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
BASE_URL_ENV = "CS_BACKEND_URL"

# docs/API_CONTRACT.md, "Timeouts and retries": an attempt outlasts the backend's longest wait for its
# database (cs_backend/db.py: SQLITE_BUSY_TIMEOUT_SECONDS, or POOL_TIMEOUT_SECONDS + CONNECT_TIMEOUT_SECONDS:
# 10 s), so a slow commit is answered, not abandoned; all attempts of one request fit in the budget, so the
# customer waits at most that long before hearing that the write is kept for later.
ATTEMPT_TIMEOUT_SECONDS = 15.0
CONNECT_TIMEOUT_SECONDS = 2.0
REQUEST_BUDGET_SECONDS = 20.0
DEFAULT_ATTEMPTS = 3
BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 2.0
# The longest Retry-After the client waits for while the customer waits: a longer one (cs_backend's database
# down says 5 s) ends the request at once, and a write is kept for the replayer, which honours it.
MAX_RETRY_AFTER_SECONDS = 2.0
# A retry needs at least this much of the budget left to be worth starting.
_MIN_ATTEMPT_SECONDS = 1.0

# Answers worth trying again: a proxy that found no backend, a backend out of its database or capacity
# (503 with Retry-After), a gateway timeout, a rate limit.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

AnswerT = TypeVar("AnswerT", bound=BackendModel)

# Where `_send` hands the body bytes to the signing trace (aiohttp's trace_request_ctx).
_SIGNED_BODY = "signed_body"


@dataclass(frozen=True)
class Queued:
    """A write cs_backend did not confirm, now kept in the outbox: it will reach cs_backend, once, when it
    answers (its number, for a ticket, is not known yet)."""

    entry_id: int
    idempotency_key: str


@dataclass(frozen=True)
class RawAnswer:
    """One HTTP answer: status, decoded JSON body (None when not JSON), Retry-After in seconds (if any)."""

    status: int
    payload: Any
    retry_after: float | None


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (its delta-seconds form; an HTTP date is not used)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _signing_trace(secret: str) -> aiohttp.TraceConfig:
    """Signs each attempt when it starts, over the URL it is sent to and the body `_send` passes along."""

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
        timeout: float = ATTEMPT_TIMEOUT_SECONDS,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = BACKOFF_SECONDS,
        budget: float = REQUEST_BUDGET_SECONDS,
        service_secret: str | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        # Without a secret the requests go unsigned, and cs_backend refuses them (401).
        self._service_secret = service_secret or os.environ.get(SECRET_ENV, "").strip() or None
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._budget = max(budget, timeout)
        # Where unconfirmed writes go; the process's outbox (ACTIONS_OUTBOX_PATH) unless one is given.
        self._outbox = outbox
        self._session: aiohttp.ClientSession | None = None
        self._bound_request_id: str | None = None

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = default_outbox()
        return self._outbox

    async def __aenter__(self) -> BackendClient:
        if self._service_secret is None:
            logger.warning("%s is not set: cs_backend will refuse the actions' requests", SECRET_ENV)
        self._session = aiohttp.ClientSession(
            headers={"Accept": "application/json", "User-Agent": "acme-rasa-actions"},
            trace_configs=[_signing_trace(self._service_secret)] if self._service_secret else None,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
    ) -> Ticket | Queued:
        body = _without_none(
            description=description,
            email=email,
            priority=priority,
            subject=subject,
            sender_id=sender_id,
            channel=channel,
        )
        return await self._write(Ticket, "/api/tickets", body, idempotency_key)

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
        scope: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> TicketPage:
        params = _without_none(
            sender_id=sender_id,
            channel=channel,
            scope=scope,
            email=email,
            status=status,
            priority=priority,
            limit=str(limit),
            offset=str(offset),
        )
        return await self._request(TicketPage, "GET", "/api/tickets", params=params)

    async def reopen_ticket(self, ticket_id: int) -> Ticket:
        """PATCH the ticket's status to open (cs_backend allows it from resolved and pending; 409 otherwise).

        Not kept in the outbox: the customer is waiting for the answer, and a reopening told later would be
        news they did not ask for."""
        return await self._request(Ticket, "PATCH", f"/api/tickets/{int(ticket_id)}", json={"status": "open"})

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
    ) -> Feedback | Queued:
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
        return await self._write(Feedback, "/api/feedback", body, idempotency_key)

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
        self,
        survey_id: int,
        *,
        csat: int | None = None,
        ces: int | None = None,
        comment: str | None = None,
        idempotency_key: str,
    ) -> Survey | Queued:
        """Records the answer; answering again replaces it (one CSAT and one CES per survey), so a retry or a
        replay is harmless. A low score with a comment reaches a person (a follow-up task).

        Kept in the outbox when unconfirmed, like any rating. The route takes no Idempotency-Key (idempotent
        by its state) and ignores the header: the key spares the outbox a second entry for the same answer."""
        body = _without_none(csat=csat, ces=ces, comment=comment)
        return await self._write(Survey, f"/api/surveys/{int(survey_id)}/answers", body, idempotency_key)

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

    async def start_onboarding(
        self, sender_id: str, channel: str, *, idempotency_key: str | None = None
    ) -> OnboardingProgress | Queued:
        """The conversation's customer engages with onboarding: the backend creates the conversation and an
        anonymous customer if missing (so its nudge job can follow up), and answers the progress.
        Idempotent: starting again changes nothing."""
        body = {"sender_id": sender_id, "channel": channel}
        return await self._write(OnboardingProgress, "/api/onboarding/start", body, idempotency_key)

    async def complete_onboarding_step(
        self,
        step: str,
        sender_id: str,
        channel: str,
        source: str = "customer",
        *,
        idempotency_key: str | None = None,
    ) -> OnboardingProgress | Queued:
        """Mark `step` done (idempotent: a step already done keeps its first completion).

        An unknown step is refused (400)."""
        body = {"step": step, "sender_id": sender_id, "channel": channel, "source": source}
        return await self._write(OnboardingProgress, "/api/onboarding/progress", body, idempotency_key)

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
    ) -> ChurnSignal | Queued:
        body = _without_none(
            kind=kind,
            sender_id=sender_id,
            channel=channel,
            reason=reason,
            outcome=outcome,
            intent=intent,
        )
        return await self._write(ChurnSignal, "/api/churn/signals", body, idempotency_key)

    # --- identities -----------------------------------------------------------------------------------------

    async def bind_website_user(
        self, user_id: str, sender_id: str, channel: str, *, idempotency_key: str
    ) -> WebsiteBinding | Queued:
        """The conversation becomes the customer's of a website user the widget's channel verified (its
        anonymous customer merged in). Idempotent; kept in the outbox when unconfirmed: it must happen."""
        body = {"user_id": user_id, "sender_id": sender_id, "channel": channel}
        return await self._write(WebsiteBinding, "/api/identities/website/bindings", body, idempotency_key)

    async def redeem_link_code(
        self, code: str, sender_id: str, channel: str, *, idempotency_key: str
    ) -> LinkedAccount:
        """Link this chat identity to the customer of a link code. Not queued: the customer waits for the
        answer, and a code expires within minutes (404 wrong/expired/used, 409 linked elsewhere, 429 too many
        wrong codes)."""
        body = {"code": code, "sender_id": sender_id, "channel": channel}
        return await self._request(
            LinkedAccount,
            "POST",
            "/api/identities/link-codes/redeem",
            json=body,
            idempotency_key=idempotency_key,
        )

    # --- transport ------------------------------------------------------------------------------------------

    async def _write(
        self, answer: type[AnswerT], path: str, body: Mapping[str, Any], idempotency_key: str | None
    ) -> AnswerT | Queued:
        """POSTs a write; kept in the outbox (and answered Queued) when cs_backend does not confirm it.

        A refusal of what was sent raises BackendError. A write without a key cannot be replayed safely (the
        first attempt may have stored it): it raises like a read."""
        try:
            return await self._request(answer, "POST", path, json=body, idempotency_key=idempotency_key)
        except BackendError as error:
            if error.is_refusal or idempotency_key is None:
                raise
            unconfirmed = error
        # The same bytes as sent: the backend's fingerprint of the replay matches the first attempt's.
        return await self._queue(path, _json_bytes(body), idempotency_key, unconfirmed)

    async def _queue(self, path: str, body: bytes, key: str, unconfirmed: BackendError) -> Queued:
        try:
            entry = await self.outbox.put(
                method="POST", path=path, body=body, idempotency_key=key, request_id=self._request_id
            )
        except OutboxError as error:
            logger.error(
                "POST %s unconfirmed (%s) and the outbox cannot keep it: %s", path, unconfirmed, error
            )
            raise WriteNotQueued(unconfirmed, str(error)) from error
        if entry.state == "dead":
            logger.error("POST %s: the outbox entry %s under its key was refused for good", path, entry.id)
            raise WriteNotQueued(unconfirmed, f"outbox entry {entry.id} is dead: {entry.last_error}")
        logger.warning(
            "POST %s unconfirmed (%s): kept in the outbox as entry %s", path, unconfirmed, entry.id
        )
        return Queued(entry.id, key)

    async def deliver(self, entry: OutboxEntry) -> RawAnswer:
        """Sends an outbox entry again, as first sent (its bytes, key and request id); raises
        BackendUnavailable when no answer came. Used by the replayer."""
        headers = {"Idempotency-Key": entry.idempotency_key, "Content-Type": "application/json"}
        return await self._send(
            entry.method, entry.path, body=entry.body, headers=headers, request_id=entry.request_id
        )

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
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = None
        if json is not None:
            # Serialised here, so that the signature covers exactly the bytes sent.
            body = _json_bytes(json)
            headers["Content-Type"] = "application/json"
        request = f"{method} {path}"
        raw = await self._send(method, path, body=body, params=params, headers=headers)
        if raw.status >= 400:
            raise _error_from(raw.status, raw.payload, request)
        return _decode(answer, raw.status, raw.payload, request)

    @property
    def _request_id(self) -> str:
        # The action call's id; outside a call, one new id for all the requests of this client.
        if self._bound_request_id is None:
            self._bound_request_id = current_request_id()
        return self._bound_request_id

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> RawAnswer:
        """One request with its retries (connection errors, timeouts, RETRYABLE_STATUSES) within the budget:
        the last answer, or BackendUnavailable when none came."""
        if self._session is None:
            raise RuntimeError("BackendClient must be used as `async with BackendClient() as client:`")
        url = f"{self.base_url}{path}"
        all_headers = {**headers, REQUEST_ID_HEADER: request_id or self._request_id}
        deadline = time.monotonic() + self._budget
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            timeout = aiohttp.ClientTimeout(
                total=min(self._timeout, remaining), connect=min(self._connect_timeout, remaining)
            )
            try:
                async with self._session.request(
                    method,
                    url,
                    data=body,
                    params=params,
                    headers=all_headers,
                    timeout=timeout,
                    trace_request_ctx={_SIGNED_BODY: body or b""},
                ) as response:
                    raw = RawAnswer(
                        response.status,
                        await _read_json(response),
                        retry_after_seconds(response.headers.get("Retry-After")),
                    )
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                metrics.count_attempt(None)
                failure: RawAnswer | BaseException = error
                delay = self._backoff_delay(attempt)
            else:
                metrics.count_attempt(raw.status)
                if raw.status not in RETRYABLE_STATUSES:
                    return raw
                failure = raw
                if raw.retry_after is not None and raw.retry_after > MAX_RETRY_AFTER_SECONDS:
                    break
                delay = raw.retry_after if raw.retry_after is not None else self._backoff_delay(attempt)
            if attempt >= self._attempts or time.monotonic() + delay + _MIN_ATTEMPT_SECONDS > deadline:
                break
            logger.info("%s %s: %s; trying again in %.2f s", method, path, _describe(failure), delay)
            await asyncio.sleep(delay)
        if isinstance(failure, RawAnswer):
            return failure
        logger.warning("cs_backend unreachable: %s %s: %r", method, url, failure)
        raise BackendUnavailable(f"{type(failure).__name__}: {failure}") from failure

    def _backoff_delay(self, attempt: int) -> float:
        return float(min(MAX_BACKOFF_SECONDS, self._backoff * 2 ** (attempt - 1)))


def _describe(failure: RawAnswer | BaseException) -> str:
    if isinstance(failure, RawAnswer):
        return f"HTTP {failure.status}"
    return f"{type(failure).__name__}: {failure}"


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    return json_module.dumps(value).encode()


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
