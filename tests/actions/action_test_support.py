"""Building rasa_sdk trackers and the domain dict for action tests, and rendering domain responses the way
Rasa does (conditional variations + {slot} placeholders), so tests can check what the customer is told.

(Not named after anything in `actions/`: pytest puts this folder on sys.path.)
"""

from __future__ import annotations

import itertools
import string
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker

REPO_ROOT = Path(__file__).resolve().parents[2]
_message_ids = itertools.count(1)


def load_domain() -> dict[str, Any]:
    with open(REPO_ROOT / "domain.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


DOMAIN = load_domain()


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
    slots: dict[str, Any] = {name: None for name in DOMAIN["slots"]}
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
