"""Building rasa_sdk trackers and the domain dict for action tests, running actions, rendering domain
responses the way Rasa does (conditional variations + {slot} placeholders) so tests can check what the
customer is told, and a fake cs_backend for what the real one cannot be made to do.

(Not named after anything in `actions/`: pytest puts this folder on sys.path.)
"""

from __future__ import annotations

import itertools
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import quote

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.tickets import ActionCreateTicket
from tests.support import REPO_ROOT

_message_ids = itertools.count(1)


def load_domain() -> dict[str, Any]:
    with open(REPO_ROOT / "domain.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


DOMAIN = load_domain()

# The onboarding checklist cs_backend serves (cs_backend/onboarding/checklist.toml), in order.
CHECKLIST_KEYS = [
    "sign_up",
    "verify_email",
    "complete_profile",
    "connect_integration",
    "invite_teammate",
    "create_project",
]
CHECKLIST_TITLES = {
    "sign_up": "Create your Acme Cloud account",
    "verify_email": "Verify your email address",
    "complete_profile": "Complete your profile",
    "connect_integration": "Connect an integration",
    "invite_teammate": "Invite a teammate",
    "create_project": "Create your first project",
}


def user_event(
    text: str,
    intent: str,
    entities: Sequence[Mapping[str, Any]] = (),
    *,
    channel: str = "rest",
    message_id: str | None = None,
    confidence: float = 0.99,
) -> dict[str, Any]:
    """A `user` event as Rasa sends it to the action server."""
    message_id = message_id or f"msg-{next(_message_ids)}-{time.time_ns()}"
    parse_data = {
        "intent": {"name": intent, "confidence": confidence},
        "entities": [dict(entity) for entity in entities],
        "text": text,
        "message_id": message_id,
        "metadata": {},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
    }
    return {
        "event": "user",
        "timestamp": time.time(),
        "text": text,
        "parse_data": parse_data,
        "input_channel": channel,
        "message_id": message_id,
        "metadata": {},
    }


def entity(name: str, value: Any, text: str | None = None) -> dict[str, Any]:
    return {
        "entity": name,
        "value": value,
        "start": 0,
        "end": len(str(text or value)),
        "extractor": "DIETClassifier",
    }


def slot_event(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "timestamp": time.time(), "name": name, "value": value}


def action_event(name: str) -> dict[str, Any]:
    return {"event": "action", "timestamp": time.time(), "name": name}


def all_slots(**values: Any) -> dict[str, Any]:
    """Every domain slot at its initial value (None, or the domain's `initial_value`: language "en"), then
    `values`."""
    slots: dict[str, Any] = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
    slots["requested_slot"] = None
    slots.update(values)
    return slots


def make_tracker(
    sender_id: str,
    events: Iterable[dict[str, Any]],
    *,
    slots: Mapping[str, Any] | None = None,
    active_loop: str | None = None,
) -> Tracker:
    """A tracker whose latest message is the last `user` event in `events`."""
    events = list(events)
    latest = next(
        (dict(e["parse_data"], text=e["text"]) for e in reversed(events) if e["event"] == "user"), {}
    )
    return Tracker(
        sender_id=sender_id,
        slots=all_slots(**(slots or {})),
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def slot_values(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The slot values a list of returned events sets (last one wins)."""
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


def render_response(name: str, slots: Mapping[str, Any]) -> list[str]:
    """The texts Rasa could send for response `name` with these slot values.

    Like Rasa's NLG: variations whose conditions all match take precedence over unconditioned ones; then
    every candidate's {placeholders} are filled from the slots.
    """
    variations = DOMAIN["responses"][name]
    slots = all_slots(**slots)  # a slot not given is at its initial value, as in Rasa's tracker
    conditional = [
        variation
        for variation in variations
        if variation.get("condition")
        and all(slots.get(c["name"]) == c["value"] for c in variation["condition"] if c.get("type") == "slot")
    ]
    candidates = conditional or [variation for variation in variations if not variation.get("condition")]
    return [_fill(variation.get("text", ""), slots) for variation in candidates]


def _fill(template: str, slots: Mapping[str, Any]) -> str:
    names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    missing = [field for field in names if slots.get(field) is None]
    assert not missing, f"response would show empty placeholders {missing}: {template!r}"
    return template.format(**{field: slots[field] for field in names})


async def run_action(action: Action, tracker: Tracker) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    """The events `action` returns for `tracker`, and the dispatcher it spoke through."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return events, dispatcher


def form_resumed_after_a_digression(
    form: str, opening: dict[str, Any], *, requested_slot: str, hint: str
) -> Tracker:
    """`form`, opened by the user event `opening`, asked for `requested_slot` with the remark `hint`; the
    customer asked "are you a bot?" instead, was answered, and the form asks for `requested_slot` again."""
    events = [
        opening,
        action_event(form),
        action_event("action_listen"),
        user_event("are you a bot?", "bot_challenge"),
        action_event("utter_iamabot"),
        slot_event("requested_slot", requested_slot),
        action_event(form),
    ]
    slots = {"form_hint": hint, "requested_slot": requested_slot}
    return make_tracker("back-from-a-digression", events, slots=slots, active_loop=form)


# --- the ticket form, for the tests that need a ticket first ------------------------------------------------


def filled_ticket_form_tracker(
    sender_id: str, *, channel: str = "rest", message_id: str | None = None, **slots: Any
) -> Tracker:
    """The tracker after the ticket form completed: the last user message answered the priority question."""
    values = {
        "description": "the invoice PDF export shows an empty page for March",
        "email": "jane@startup.io",
        "priority": "high",
        **slots,
    }
    events = [
        user_event("the invoice PDF export shows an empty page for March", "report_problem", channel=channel),
        user_event("jane@startup.io", "inform", [entity("email", "jane@startup.io")], channel=channel),
        user_event("high", "inform", [entity("priority", "high")], channel=channel, message_id=message_id),
    ]
    return make_tracker(sender_id, events, slots=values)


async def create_ticket(sender_id: str, **slots: Any) -> dict[str, Any]:
    """Runs action_create_ticket after a completed form; the slots it set (the ticket was created)."""
    events, _ = await run_action(ActionCreateTicket(), filled_ticket_form_tracker(sender_id, **slots))
    values = slot_values(events)
    assert values["ticket_outcome"] == "created", values
    return values


class JsonGetter(Protocol):
    def get(self, path: str) -> Any: ...


def tickets_of(backend: JsonGetter, sender_id: str) -> dict[str, Any]:
    """The page of the conversation's tickets, read directly from the backend."""
    return backend.get(f"/api/tickets?sender_id={quote(sender_id)}&limit=100")


# --- a fake cs_backend --------------------------------------------------------------------------------------

Answer = Callable[[int, web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: Mapping[str, str]


class FakeBackend:
    """A stand-in for cs_backend on a local port, for what the real one cannot be made to do: answer late,
    drop the connection, break its contract. `answer` makes the response to the n-th request (from 1); every
    request is recorded in `received`. Use it as an async context manager."""

    def __init__(self, answer: Answer) -> None:
        self._answer = answer
        self.received: list[ReceivedRequest] = []
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        # A short shutdown: a handler still answering late must not hold up the test.
        self._server = TestServer(app, host="127.0.0.1", shutdown_timeout=0.1)

    @property
    def url(self) -> str:
        return str(self._server.make_url("")).rstrip("/")

    async def __aenter__(self) -> FakeBackend:
        await self._server.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._server.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(ReceivedRequest(request.method, request.path, dict(request.headers)))
        return await self._answer(len(self.received), request)


def always(body: Any, status: int = 200) -> Answer:
    """An answer: `body` as JSON with `status`, to every request."""

    async def answer(number: int, request: web.Request) -> web.StreamResponse:
        return web.json_response(body, status=status)

    return answer


@asynccontextmanager
async def backend_breaking_its_contract(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBackend]:
    """CS_BACKEND_URL pointing at a fake cs_backend whose every answer is a 200 that no answer model accepts
    (every field they need is missing)."""
    async with FakeBackend(always({"unexpected": "shape"})) as fake:
        monkeypatch.setenv("CS_BACKEND_URL", fake.url)
        yield fake
