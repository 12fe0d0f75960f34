"""The REST channel for trusted callers (tests, integrations): Rasa's, with every message checked first.

Trusted: a typed `/…` payload reaches Rasa as it is, unless it names an external intent; the length limit and
the cleaning apply as on every channel (guard.py). Registered in credentials.yml as
`bot.channels.rest.CheckedRestInput`; its name and URL stay Rasa's (`rest`, /webhooks/rest/webhook).
"""

from __future__ import annotations

import os
from typing import Any

from rasa.core.channels.rest import RestInput
from sanic import Blueprint
from sanic.request import Request

from bot.channels.guard import MessageGuard, MessageHandler, agent_of
from bot.channels.message_text import max_chars_from


class CheckedRestInput(RestInput):
    """Rasa's REST input channel behind a trusted `MessageGuard`."""

    def __init__(self) -> None:
        super().__init__()
        self.guard = MessageGuard(max_chars=max_chars_from(os.environ), trusted=True)

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        # The lambda reads `blueprint` when a message arrives: by then Rasa has registered it on its app.
        blueprint = super().blueprint(self.guard.wrap(on_new_message, lambda: agent_of(blueprint)))
        return blueprint

    def _extract_message(self, req: Request) -> Any:
        # Rasa's channel fails on a message that is not a string; it becomes no text (answered politely).
        message = super()._extract_message(req)
        return message if isinstance(message, str) else ""
