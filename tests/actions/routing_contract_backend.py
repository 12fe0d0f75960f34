"""A small cs_backend on a local port that speaks the live-handoff contract (/work/notes/handoff-contract.md,
docs/HANDOFF.md): the routing calls the bot makes, and what they lead to (a ticket, a rating).

The real cs_backend queues, offers and relays a handoff only with an agent online (an account, a routing
profile, a signed-in agent setting their status), and cannot be made to close a team's hours, refuse an email
or fail on demand; so the action tests answer those calls with this server: the client under test runs
unchanged (signing, retries, decoding), only the other end is this stand-in. The answers' shapes are checked
against the served contract in test_backend_contract.py; test_handoff_backend.py runs what the real backend
does without agents (unavailable → ticket, session start, an unknown handoff).

It checks what the real one checks for these calls: the service signature (actions/api/signing.py), the
bodies (fields, types, the `reason` and `language` values, `detail` at most 1000 characters, a 400 naming the
field), Idempotency-Key (the same key and body answer the same; another body is a 422), customer messages
stored once per `message_id`, and a handoff's ticket only for one closed as unavailable (else 409).

(Not named after anything in `actions/`: pytest puts this folder on sys.path.)
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from aiohttp import web
from aiohttp.test_utils import TestServer

from actions.api.signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, canonical_string

SECRET = "routing-contract-backend-secret-0123456789"
REASONS = {"customer_request", "misunderstood", "low_csat", "human_only_category", "health_red"}
PRIORITIES = {"urgent", "high", "normal", "low"}
LIVE = {"queued", "assigned", "accepted"}
DETAIL_MAX = 1000
NOW = "2026-11-30T10:00:00+00:00"

# How the next handoff is answered: who can take it now.
Availability = Literal["queued", "assigned", "no_agent", "closed"]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: Mapping[str, str]
    body: Any
    headers: Mapping[str, str]


@dataclass
class RoutingContractBackend:
    """Use as `async with RoutingContractBackend() as fake:`, with CS_BACKEND_URL=fake.url and
    CS_BACKEND_SERVICE_SECRET=SECRET. `availability` decides how new handoffs are answered; `known_email`
    is the email of the customer's record (used when the request has none); `failing` maps a path prefix to
    a status answered to every request under it."""

    availability: Availability = "queued"
    queue_position: int = 2
    estimated_wait_seconds: int | None = 150
    agent_id: int = 7
    agent_name: str = "Ana"
    reopens_at: str = "2026-12-01T08:00:00+00:00"
    known_email: str | None = None
    refused_emails: set[str] = field(default_factory=set)
    failing: dict[str, int] = field(default_factory=dict)
    secret: str = SECRET
    received: list[Received] = field(default_factory=list)
    handoffs: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    customer_messages: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(101)
        self._idempotent: dict[tuple[str, str], tuple[str, web.Response]] = {}
        self._message_ids: set[tuple[int, str]] = set()
        app = web.Application()
        app.router.add_post("/api/routing/handoffs", self._create_handoff)
        app.router.add_post(r"/api/routing/handoffs/{id:\d+}/ticket", self._handoff_ticket)
        app.router.add_post(r"/api/routing/handoffs/{id:\d+}/customer-messages", self._customer_message)
        app.router.add_get("/api/routing/conversations/active-handoff", self._active_handoff)
        app.router.add_post("/api/tickets", self._create_ticket)
        app.router.add_get(r"/api/tickets/{id:\d+}", self._get_ticket)
        app.router.add_post("/api/feedback", self._create_feedback)
        self._server = TestServer(app, host="127.0.0.1", shutdown_timeout=0.1)

    @property
    def url(self) -> str:
        return str(self._server.make_url("")).rstrip("/")

    async def __aenter__(self) -> RoutingContractBackend:
        await self._server.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._server.close()

    # --- what the tests read ------------------------------------------------------------------------------

    def calls(self, method: str, path_prefix: str) -> list[Received]:
        return [r for r in self.received if r.method == method and r.path.startswith(path_prefix)]

    def open_handoff(self, sender_id: str, state: str = "accepted", **values: Any) -> dict[str, Any]:
        """A handoff of `sender_id` as cs_backend would hold it (for relay and session-start tests)."""
        handoff = self._handoff(sender_id, "rest", "customer_request", "en", None, "normal", None)
        handoff.update(state=state, agent_id=self.agent_id, agent_name=self.agent_name, **values)
        self.handoffs[handoff["id"]] = handoff
        return handoff

    def end(self, handoff_id: int, state: str) -> None:
        self.handoffs[handoff_id]["state"] = state

    # --- the routes ---------------------------------------------------------------------------------------

    async def _checked(self, request: web.Request) -> tuple[Any, web.Response | None]:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.received.append(
            Received(request.method, request.path, dict(request.query), body, dict(request.headers))
        )
        if not self._signed(request, raw):
            return body, _error(401, "the request is not signed with the service secret")
        for prefix, status in self.failing.items():
            if request.path.startswith(prefix):
                return body, _error(status, "failing on purpose")
        if raw and request.content_type != "application/json":
            return body, _error(415, "the body must be JSON")
        return body, None

    def _signed(self, request: web.Request, raw: bytes) -> bool:
        try:
            timestamp = request.headers[TIMESTAMP_HEADER]
            nonce = request.headers[NONCE_HEADER]
            version, _, signature = request.headers[SIGNATURE_HEADER].partition("=")
        except KeyError:
            return False
        message = canonical_string(request.method, request.path_qs, timestamp, nonce, raw)
        expected = hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
        return version == "v1" and hmac.compare_digest(signature, expected)

    def _replayed(self, request: web.Request, body: Any) -> web.Response | None:
        key = request.headers.get("Idempotency-Key")
        if not key:
            return None
        seen = self._idempotent.get((request.path, key))
        if seen is None:
            return None
        fingerprint, answer = seen
        if fingerprint != json.dumps(body, sort_keys=True):
            return _error(422, "Idempotency-Key reused with another body")
        return web.json_response(json.loads(answer.text or "null"), status=answer.status)

    def _remember(self, request: web.Request, body: Any, answer: web.Response) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        if key:
            self._idempotent[(request.path, key)] = (json.dumps(body, sort_keys=True), answer)
        return answer

    async def _create_handoff(self, request: web.Request) -> web.Response:
        body, refused = await self._checked(request)
        if refused is not None:
            return refused
        replayed = self._replayed(request, body)
        if replayed is not None:
            return replayed
        problems = _handoff_problems(body) or _refused_email(body, self.refused_emails)
        if problems:
            return _error(400, "invalid handoff", problems)
        handoff = self._handoff(
            body["sender_id"],
            body.get("channel", "api"),
            body["reason"],
            body.get("language", "en"),
            body.get("skill"),
            body.get("priority", "normal"),
            body.get("detail"),
        )
        if self.availability == "queued":
            handoff.update(
                queue_position=self.queue_position, estimated_wait_seconds=self.estimated_wait_seconds
            )
        elif self.availability == "assigned":
            handoff.update(state="assigned", agent_id=self.agent_id, agent_name=self.agent_name)
        else:
            handoff.update(state="cancelled", unavailable=self.availability)
            if self.availability == "closed":
                handoff["reopens_at"] = self.reopens_at
            email = body.get("email") or self.known_email
            if email:
                handoff["ticket_id"] = self._ticket(email, handoff["detail"] or "", body["sender_id"])["id"]
        self.handoffs[handoff["id"]] = handoff
        return self._remember(request, body, web.json_response(handoff, status=201))

    async def _handoff_ticket(self, request: web.Request) -> web.Response:
        body, refused = await self._checked(request)
        if refused is not None:
            return refused
        handoff = self.handoffs.get(int(request.match_info["id"]))
        if handoff is None:
            return _error(404, "no such handoff")
        if not isinstance(body, dict) or not _is_email(body.get("email")):
            return _error(400, "invalid body", {"email": "must be an email address"})
        if handoff["unavailable"] is None:
            return _error(409, "the handoff was not closed as unavailable")
        if handoff["ticket_id"] is None:
            ticket = self._ticket(body["email"], handoff["detail"] or "", handoff["sender_id"])
            handoff["ticket_id"] = ticket["id"]
        return web.json_response(handoff, status=201)

    async def _customer_message(self, request: web.Request) -> web.Response:
        body, refused = await self._checked(request)
        if refused is not None:
            return refused
        handoff = self.handoffs.get(int(request.match_info["id"]))
        if handoff is None:
            return _error(404, "no such handoff")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            return _error(400, "invalid body", {"text": "must be 1-2000 characters"})
        stored = False
        if handoff["state"] in LIVE:
            seen = (handoff["id"], body.get("message_id") or "")
            if not body.get("message_id") or seen not in self._message_ids:
                self._message_ids.add(seen)
                self.customer_messages.append({"handoff_id": handoff["id"], **body})
                stored = True
        return web.json_response({"handoff": handoff, "stored": stored})

    async def _active_handoff(self, request: web.Request) -> web.Response:
        _, refused = await self._checked(request)
        if refused is not None:
            return refused
        sender_id = request.query.get("sender_id")
        if not sender_id:
            return _error(400, "invalid query", {"sender_id": "field required"})
        for handoff in self.handoffs.values():
            if handoff["sender_id"] == sender_id and handoff["state"] in LIVE:
                return web.json_response(handoff)
        return _error(404, "no active handoff")

    async def _create_ticket(self, request: web.Request) -> web.Response:
        body, refused = await self._checked(request)
        if refused is not None:
            return refused
        replayed = self._replayed(request, body)
        if replayed is not None:
            return replayed
        if not _is_email(body.get("email")):
            return _error(400, "invalid ticket", {"email": "must be an email address"})
        ticket = self._ticket(body["email"], body["description"], body.get("sender_id") or "")
        ticket["priority"] = body.get("priority", "normal")
        return self._remember(request, body, web.json_response(ticket, status=201))

    async def _get_ticket(self, request: web.Request) -> web.Response:
        _, refused = await self._checked(request)
        if refused is not None:
            return refused
        ticket = self.tickets.get(int(request.match_info["id"]))
        return web.json_response(ticket) if ticket else _error(404, "no such ticket")

    async def _create_feedback(self, request: web.Request) -> web.Response:
        body, refused = await self._checked(request)
        if refused is not None:
            return refused
        replayed = self._replayed(request, body)
        if replayed is not None:
            return replayed
        extra = set(body) - {
            "kind",
            "score",
            "comment",
            "ticket_id",
            "sender_id",
            "channel",
            "intent",
            "resolver",
            "agent_id",
            "handoff_id",
        }
        if extra:
            return _error(400, "invalid feedback", {name: "unknown field" for name in extra})
        stored = {
            "id": next(self._ids),
            "comment": None,
            "ticket_id": None,
            "conversation_id": 1,
            "channel": "api",
            "intent": None,
            "created_at": NOW,
            **body,
        }
        self.feedback.append(stored)
        return self._remember(request, body, web.json_response(stored, status=201))

    # --- rows ---------------------------------------------------------------------------------------------

    def _handoff(
        self,
        sender_id: str,
        channel: str,
        reason: str,
        language: str,
        skill: str | None,
        priority: str,
        detail: str | None,
    ) -> dict[str, Any]:
        return {
            "id": next(self._ids),
            "conversation_id": 1,
            "sender_id": sender_id,
            "channel": channel,
            "customer_id": None,
            "language": language,
            "skill": skill,
            "team_id": None,
            "priority": priority,
            "at_risk": False,
            "high_value": False,
            "reason": reason,
            "detail": detail,
            "state": "queued",
            "agent_id": None,
            "agent_name": None,
            "queue_position": None,
            "estimated_wait_seconds": None,
            "ticket_id": None,
            "unavailable": None,
            "reopens_at": None,
            "queued_at": NOW,
            "offered_at": None,
            "accepted_at": None,
            "first_response_at": None,
            "resolved_at": None,
            "cancelled_at": None,
            "updated_at": NOW,
        }

    def _ticket(self, email: str, description: str, sender_id: str) -> dict[str, Any]:
        ticket = {
            "id": next(self._ids),
            "subject": description[:80] or "Handoff",
            "description": description,
            "priority": "normal",
            "status": "open",
            "email": email.lower(),
            "customer_id": 1,
            "conversation_id": 1,
            "channel": "rest",
            "created_at": NOW,
            "updated_at": NOW,
            "sender_id": sender_id,
        }
        self.tickets[ticket["id"]] = ticket
        return ticket


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and "@" in value and "." in value.rsplit("@", 1)[-1]


def _handoff_problems(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        return {"body": "must be an object"}
    problems: dict[str, str] = {}
    if not isinstance(body.get("sender_id"), str) or not body["sender_id"].strip():
        problems["sender_id"] = "field required"
    if body.get("reason") not in REASONS:
        problems["reason"] = f"must be one of {sorted(REASONS)}"
    language = body.get("language", "en")
    if not (isinstance(language, str) and language.isalpha() and 2 <= len(language) <= 3):
        problems["language"] = "must be an ISO 639 code"
    if body.get("priority", "normal") not in PRIORITIES:
        problems["priority"] = f"must be one of {sorted(PRIORITIES)}"
    detail = body.get("detail")
    if detail is not None and (not isinstance(detail, str) or not 1 <= len(detail.strip()) <= DETAIL_MAX):
        problems["detail"] = f"must be 1-{DETAIL_MAX} characters"
    if "email" in body and not _is_email(body["email"]):
        problems["email"] = "must be an email address"
    return problems


def _refused_email(body: Any, refused: set[str]) -> dict[str, str]:
    if isinstance(body, dict) and body.get("email") in refused:
        return {"email": "this address cannot receive mail"}
    return {}


def _error(status: int, message: str, fields: Mapping[str, str] | None = None) -> web.Response:
    error: dict[str, Any] = {"status": status, "message": message}
    if fields:
        error["fields"] = dict(fields)
    return web.json_response({"error": error}, status=status)
