"""One customer across channels (docs/CHANNELS.md, "One customer across channels").

`bind_verified_website_user` runs inside action_session_start (actions/handoff.py), once per Rasa session, not
per message (Rasa sends the whole tracker with each action call): when the session was started by a website
user the widget's channel verified (bot/channels/website_identity.py puts the user id in the message
metadata, where the browser cannot set it), it asks cs_backend to bind the conversation to that user's
customer, merging the visitor's anonymous customer in. The write goes through the outbox: a binding cs_backend
does not confirm is delivered later, so the visitor's onboarding progress and tickets still follow them.

`action_link_account` redeems a link code typed in Slack or Telegram ("link 483921", or the Telegram deep
link's `/link_account{"link_code": "<token>"}`), linking that chat user (sender_id, channel) to the customer
of the signed-in website user who asked for the code. It speaks through responses only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api.client import BackendClient, Queued
from actions.api.errors import BackendError
from actions.common import conversation_channel, make_idempotency_key, write_key

logger = logging.getLogger(__name__)

# The metadata key the widget's channel sets (bot/channels/website_identity.py VERIFIED_USER_KEY).
VERIFIED_USER_KEY = "verified_website_user"
SESSION_METADATA_SLOT = "session_started_metadata"
LINK_CODE_ENTITY = "link_code"
LINKABLE_CHANNELS = ("slack", "telegram")
# A 6-digit code, or a deep link's token (URL-safe base64), as cs_backend accepts them.
_CODE = re.compile(r"[A-Za-z0-9_-]{6,64}")
_DIGITS = re.compile(r"(?<!\d)\d{6}(?!\d)")


def _latest_user_event(tracker: Tracker) -> Mapping[str, Any] | None:
    """The user message of this session start when it is a `/session_start`; None when Rasa started the
    session for the first message (it has just set the metadata slot: the latest event)."""
    if tracker.events and tracker.events[-1].get("name") == SESSION_METADATA_SLOT:
        return None
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            return None  # the session has already started: its metadata is in the slot
        if event.get("event") == "user":
            return event
    return None


def session_metadata(tracker: Tracker) -> tuple[Mapping[str, Any] | None, bool]:
    """The metadata this session starts with, and whether it came with a `/session_start` message (the
    widget's channel sends one when a visitor signs in mid-conversation), whose metadata Rasa does not put
    in the slot; otherwise Rasa has set the slot from the session's first message."""
    latest = _latest_user_event(tracker)
    intent = ((latest or {}).get("parse_data") or {}).get("intent") or {}
    if latest is not None and intent.get("name") == "session_start":
        metadata = latest.get("metadata")
        return (metadata if isinstance(metadata, Mapping) else None), True
    slot = tracker.get_slot(SESSION_METADATA_SLOT)
    return (slot if isinstance(slot, Mapping) else None), False


async def bind_verified_website_user(tracker: Tracker) -> list[EventType]:
    """At session start: bind the conversation to its verified website user; the slot events to add."""
    metadata, from_session_start = session_metadata(tracker)
    user_id = (metadata or {}).get(VERIFIED_USER_KEY)
    if not isinstance(user_id, str) or not user_id:
        return []
    # Recorded for the widget's channel, which reads who the session was started with.
    events: list[EventType] = []
    if from_session_start:
        events.append(SlotSet(SESSION_METADATA_SLOT, dict(metadata or {})))
    key = make_idempotency_key("website-binding", tracker.sender_id, user_id)
    try:
        async with BackendClient() as backend:
            bound = await backend.bind_website_user(
                user_id, tracker.sender_id, conversation_channel(tracker), idempotency_key=key
            )
    except BackendError as error:
        # 409: the conversation is another verified user's (the channel gives a new session in that case,
        # so only a race lands here); anything else was not queued either: the next session tries again.
        logger.warning("conversation %s not bound to its website user: %s", tracker.sender_id, error)
        return events
    if isinstance(bound, Queued):
        logger.info("binding of conversation %s queued (outbox entry %s)", tracker.sender_id, bound.entry_id)
    elif bound.merged_customer_id is not None:
        logger.info(
            "conversation %s bound to customer %s (anonymous customer %s merged in)",
            tracker.sender_id,
            bound.customer_id,
            bound.merged_customer_id,
        )
    return events


def requested_link_code(tracker: Tracker) -> str | None:
    """The code of the latest message: its `link_code` entity, else 6 digits in its text."""
    for entity in tracker.latest_message.get("entities") or []:
        value = entity.get("value")
        if entity.get("entity") != LINK_CODE_ENTITY or not isinstance(value, str):
            continue
        if _CODE.fullmatch(value.strip()):
            return value.strip()
    found = _DIGITS.search(tracker.latest_message.get("text") or "")
    return found.group() if found else None


class ActionLinkAccount(Action):
    """Links this Slack or Telegram user to the website customer whose link code they typed."""

    def name(self) -> str:
        return "action_link_account"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        channel = conversation_channel(tracker)
        if channel not in LINKABLE_CHANNELS:
            dispatcher.utter_message(response="utter_link_account_not_here")
            return []
        code = requested_link_code(tracker)
        if code is None:
            dispatcher.utter_message(response="utter_link_account_ask_code")
            return []
        try:
            async with BackendClient() as backend:
                linked = await backend.redeem_link_code(
                    code, tracker.sender_id, channel, idempotency_key=write_key("link-account", tracker)
                )
        except BackendError as error:
            dispatcher.utter_message(response=_refusal_response(error))
            if not error.is_refusal and error.status != 429:
                logger.warning("link code of sender %s not redeemed: %s", tracker.sender_id, error)
            return []
        # No code, no user id, no customer data in the log: the customer id is enough to follow it.
        logger.info("sender %s (%s) linked to customer %s", tracker.sender_id, channel, linked.customer_id)
        dispatcher.utter_message(response="utter_link_account_done")
        return []


def _refusal_response(error: BackendError) -> str:
    if error.status == 404:
        return "utter_link_account_invalid_code"
    if error.status == 409:
        return "utter_link_account_linked_elsewhere"
    if error.status == 429:
        return "utter_link_account_too_many_tries"
    return "utter_link_account_unavailable"
