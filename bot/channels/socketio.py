"""The website widget's channel: Rasa's socket.io channel with every message checked first (guard.py).

Untrusted: a typed `/…` payload reaches Rasa only when it is a button the bot has just offered. Registered in
credentials.yml as `bot.channels.socketio.CheckedSocketIOInput` with the parameters of Rasa's `socketio`; its
name stays "socketio" (the channel stored with tickets and feedback, the one cs_backend's nudges ask for).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.channels.guard import MessageGuard, MessageHandler, agent_of
from bot.channels.message_text import max_chars_from

logger = logging.getLogger(__name__)

SocketEventHandler = Any  # python-socketio's handlers are untyped: async (sid, data) -> None


class CheckedSocketIOInput(SocketIOInput):
    """Rasa's socket.io input channel behind a `MessageGuard`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = MessageGuard(max_chars=max_chars_from(os.environ), trusted=False)

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        # The lambda reads `blueprint` when a message arrives: by then Rasa has registered it on its app.
        blueprint = super().blueprint(self.guard.wrap(on_new_message, lambda: agent_of(blueprint)))
        self._accept_only_text_messages()
        return blueprint

    def _accept_only_text_messages(self) -> None:
        """Put a check of the event's shape in front of Rasa's handler of user messages, which assumes a dict
        with a text: anything else sent as the message becomes no text (answered politely), and an event that
        is not a dict (no session to answer to) is dropped."""
        assert self.sio is not None  # set by SocketIOInput.blueprint
        namespace = self.namespace or "/"
        rasa_handler: SocketEventHandler = self.sio.handlers[namespace][self.user_message_evt]

        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                logger.info("%s without a message object from socket %s dropped", self.user_message_evt, sid)
                return
            if not isinstance(data.get("message"), str):
                data = {**data, "message": ""}
            if self.metadata_key in data and not isinstance(_metadata_object(data[self.metadata_key]), dict):
                # Rasa json.loads a metadata string and passes anything on: only an object is kept.
                data = {key: value for key, value in data.items() if key != self.metadata_key}
            await rasa_handler(sid, data)

        self.sio.on(self.user_message_evt, handle_message, namespace=self.namespace)


def _metadata_object(metadata: Any) -> Any:
    """The metadata as Rasa will read it: a JSON string is parsed, anything else taken as it is."""
    if isinstance(metadata, str):
        try:
            return json.loads(metadata)
        except ValueError:
            return None
    return metadata
