"""What cs_backend tells the customer's conversation through Rasa while a person holds it (the intents of
docs/HANDOFF.md, "Relay"): each is `trigger_intent` on the handoff's channel, and the bot's relay actions
speak.

A relay that fails (Rasa unreachable or refusing) is logged and answered False; it never undoes the change
it reports (SQL committed first). Log lines name the intent and the handoff, never the text or an email.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from cs_backend.rasa_client import RasaClient, RasaError
from cs_backend.routing.models import HandoffRequest

log = logging.getLogger(__name__)

AGENT_MESSAGE: Final = "EXTERNAL_agent_message"
HANDOFF_UPDATE: Final = "EXTERNAL_handoff_update"
HANDOFF_ENDED: Final = "EXTERNAL_handoff_ended"


def _what_failed(error: RasaError) -> str:
    # "Rasa answered 500" or "no answer from Rasa at <url>": Rasa's own answer may quote what was sent.
    return str(error).split(": ", 1)[0]


@dataclass(frozen=True)
class CustomerRelay:
    rasa: RasaClient

    async def _trigger(self, handoff: HandoffRequest, intent: str, entities: dict[str, Any]) -> bool:
        try:
            await self.rasa.trigger_intent(
                handoff.sender_id, intent, entities, output_channel=handoff.channel
            )
        except RasaError as error:
            log.warning("relay of %s to handoff %d failed: %s", intent, handoff.id, _what_failed(error))
            return False
        return True

    async def agent_message(self, handoff: HandoffRequest, agent_name: str, text: str) -> bool:
        entities = {"handoff_id": handoff.id, "agent_name": agent_name, "text": text}
        return await self._trigger(handoff, AGENT_MESSAGE, entities)

    async def queued(self, handoff: HandoffRequest, position: int, wait_minutes: int) -> bool:
        entities = {
            "handoff_id": handoff.id,
            "state": "queued",
            "position": position,
            "wait_minutes": wait_minutes,
        }
        return await self._trigger(handoff, HANDOFF_UPDATE, entities)

    async def accepted(self, handoff: HandoffRequest, agent_name: str) -> bool:
        entities = {"handoff_id": handoff.id, "state": "accepted", "agent_name": agent_name}
        return await self._trigger(handoff, HANDOFF_UPDATE, entities)

    async def ended(
        self, handoff: HandoffRequest, outcome: str, agent_id: int | None, agent_name: str | None
    ) -> bool:
        entities: dict[str, Any] = {"handoff_id": handoff.id, "outcome": outcome}
        if agent_id is not None:
            entities["agent_id"] = agent_id
        if agent_name is not None:
            entities["agent_name"] = agent_name
        return await self._trigger(handoff, HANDOFF_ENDED, entities)
