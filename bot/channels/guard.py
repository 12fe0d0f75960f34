"""The check between a customer channel and Rasa: every message is refused politely, cleaned, or handed on.

A refused message (too many in a while for its conversation, too long, no text) gets its answer on the channel
it came from, in Chinese when the message has Chinese characters and in English otherwise, and never reaches
Rasa: no NLU, no tracker read or write. A typed payload the channel may not send (typed_payloads.py) is handed
on as ordinary text.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint

from bot.channels.chat_rate import TOO_MANY_ANSWER, TOO_MANY_ANSWER_ZH, ConversationRateLimit, rate_limit_from
from bot.channels.message_text import NO_TEXT_ANSWER, Refused, checked_text, in_language_of
from bot.channels.typed_payloads import as_ordinary_text, is_typed_payload, offered_payloads, payload_accepted

if TYPE_CHECKING:
    # Only for type hints: importing Rasa's agent loads TensorFlow (half a minute on a busy machine), which
    # the channel registry, run by the launcher before Rasa starts, does not need (registry.py).
    from rasa.core.agent import Agent

logger = logging.getLogger(__name__)

MessageHandler = Callable[[UserMessage], Awaitable[Any]]
# How often a typed payload's check looks again whether the conversation's previous message is done (Rasa's
# own handling polls every second): its offered buttons are only in the tracker once that turn is saved.
LOCK_POLL_SECONDS = 0.05


def agent_of(blueprint: Blueprint) -> Agent:
    """The agent of the Rasa server a channel's blueprint is registered on (`app.ctx.agent`, which Rasa sets
    and replaces when it loads a model)."""
    app = next(iter(blueprint.apps))
    agent: Agent = app.ctx.agent
    return agent


@dataclass(frozen=True)
class MessageGuard:
    """The check one channel applies; `trusted`: its callers may type any payload but an external intent."""

    max_chars: int
    trusted: bool
    # Messages per conversation in a while (chat_rate.py), from the environment unless given.
    rate_limit: ConversationRateLimit = field(default_factory=lambda: rate_limit_from(os.environ))

    def wrap(self, on_new_message: MessageHandler, agent: Callable[[], Agent]) -> MessageHandler:
        """`on_new_message` (Rasa's handler) behind this check; `agent` gives the server's current agent."""

        async def checked(message: UserMessage) -> Any:
            admitted: str | Refused
            if self.rate_limit.admit(message.sender_id):
                admitted = await self.admitted_text(message, agent)
            else:  # before anything else: a flood costs no tracker read
                text = message.text if isinstance(message.text, str) else None
                admitted = Refused(
                    "too many messages", in_language_of(text, TOO_MANY_ANSWER, TOO_MANY_ANSWER_ZH)
                )
            if isinstance(admitted, Refused):
                logger.info("message from %s refused (%s)", message.sender_id, admitted.reason)
                await message.output_channel.send_text_message(message.sender_id, admitted.answer)
                return None
            message.text = admitted
            return await on_new_message(message)

        return checked

    async def admitted_text(self, message: UserMessage, agent: Callable[[], Agent]) -> str | Refused:
        """The text Rasa gets for `message`, or why it gets nothing."""
        text = checked_text(message.text, self.max_chars)
        if isinstance(text, Refused) or not is_typed_payload(text):
            return text
        offered = frozenset() if self.trusted else await self._offered_payloads(agent(), message.sender_id)
        if payload_accepted(text, offered, self.trusted):
            return text
        logger.info("typed payload from %s was not offered: handled as text", message.sender_id)
        return as_ordinary_text(text) or Refused("no text", NO_TEXT_ANSWER)

    @staticmethod
    async def _offered_payloads(agent: Agent, sender_id: str) -> frozenset[str]:
        # Under the conversation's lock, so a button pressed while the bot's turn is still being saved is
        # checked against that turn.
        async with agent.lock_store.lock(sender_id, wait_time_in_seconds=LOCK_POLL_SECONDS):
            tracker = await agent.tracker_store.retrieve(sender_id)
        return offered_payloads(tracker.events) if tracker else frozenset()
