"""Which typed `/intent{"entity": "value"}` messages Rasa may read as what they say.

Rasa reads a message that starts with "/" as an intent with entities (RegexMessageHandler, added to every
model's graph), skipping NLU. Only two kinds of caller may do that: a customer pressing a button the bot has
just offered (the widget sends the button's payload), and a trusted channel (REST: tests, integrations).
Anything else that starts with "/" is handed on as ordinary text. An `EXTERNAL_*` intent is never accepted
typed, not even as a button's payload: it only comes from cs_backend through Rasa's authenticated API
(`trigger_intent`).

Pure functions; guard.py reads the offered buttons from the conversation's tracker and applies them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.core.events import BotUttered, Event, UserUttered

EXTERNAL_INTENT_PREFIX = "EXTERNAL_"
# The intent name as Rasa's YAMLStoryReader._regex_message_pattern reads it: up to "{" or "@".
_PAYLOAD_INTENT = re.compile(f"^{re.escape(INTENT_MESSAGE_PREFIX)}(?P<intent>[^{{@]+)")


def is_typed_payload(text: str) -> bool:
    """Whether Rasa would try to read `text` as an intent rather than run NLU on it."""
    return text.strip().startswith(INTENT_MESSAGE_PREFIX)


def payload_intent(text: str) -> str | None:
    """The intent a payload names (`/rate{"csat": 5}` -> "rate"), None if it names none."""
    match = _PAYLOAD_INTENT.match(text.strip())
    return match.group("intent").strip() if match else None


def offered_payloads(events: Iterable[Event]) -> frozenset[str]:
    """The payloads of the buttons the bot offered in its latest turn, that is in its messages after the last
    user message (`events` in the order they happened)."""
    latest_turn: list[BotUttered] = []
    for event in events:
        if isinstance(event, UserUttered):
            latest_turn.clear()
        elif isinstance(event, BotUttered):
            latest_turn.append(event)
    return frozenset(
        button["payload"].strip()
        for message in latest_turn
        for button in message.data.get("buttons") or ()
        if isinstance(button.get("payload"), str)
    )


def payload_accepted(text: str, offered: Collection[str], trusted: bool) -> bool:
    """Whether the typed payload `text` may reach Rasa as it is: it is exactly an offered button's payload, or
    the channel is trusted; and it names no external intent."""
    intent = payload_intent(text)
    if intent is not None and intent.startswith(EXTERNAL_INTENT_PREFIX):
        return False
    return trusted or text.strip() in offered


def as_ordinary_text(text: str) -> str:
    """`text` without its leading "/" (all of them, and the spaces between), so that NLU reads it as words.

    Rasa strips a message before it looks for the "/", so "/ /rate" would still be a payload after removing
    only the first one.
    """
    remaining = text.strip()
    while remaining.startswith(INTENT_MESSAGE_PREFIX):
        remaining = remaining[len(INTENT_MESSAGE_PREFIX) :].strip()
    return remaining
