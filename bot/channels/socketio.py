"""The website widget's channel: Rasa's socket.io channel with server-issued sessions, an Origin check, and
every message checked first (guard.py).

Untrusted: a typed `/…` payload reaches Rasa only when it is a button the bot has just offered. Registered in
credentials.yml as `bot.channels.socketio.CheckedSocketIOInput` with the parameters of Rasa's `socketio`; its
name stays "socketio" (the channel stored with tickets and feedback, the one cs_backend's nudges ask for).

Ownership of a conversation (widget_sessions.py): `session_request` answers with a signed token, the one
presented when it verifies, else a new one; the socket is bound to that session and joins the room of its
sender id, which is derived from the token and never sent to the browser. Messages are attributed to the
socket's session, whatever `session_id` they carry, and dropped from a socket without one. Rasa emits the
bot's replies to the room of the sender id, so they reach only the sockets that presented its token. A message
is acknowledged (socket.io ack) once Rasa has handled it; one sent again with a `message_id` already handled
in this conversation is dropped (message_ids.py).

Origins: Rasa creates engine.io with `cors_allowed_origins=[]`, which checks no Origin, so a page of any site
could open a websocket here. Requests whose Origin is not one of RASA_CORS_ORIGINS (the launcher passes the
same list to Rasa's `--cors`) are refused with 403 before engine.io reads them, on both transports. A request
without an Origin (not sent by a browser page of another site) passes: the check protects visitors'
browsers, not the channel from programs, which can send any Origin.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import MessageGuard, MessageHandler, agent_of
from bot.channels.message_ids import SeenMessageIds, message_id
from bot.channels.message_text import max_chars_from
from bot.channels.widget_sessions import WidgetSessions

logger = logging.getLogger(__name__)

SocketEventHandler = Any  # python-socketio's handlers are untyped: async (sid, data) -> None
ORIGINS_VARIABLE = "RASA_CORS_ORIGINS"
# Where a socket's verified sender id is kept: python-socketio's per-socket session, gone on disconnect.
_SENDER_KEY = "sender_id"
# The widget's own id of a message (message_ids.py): a resend of a message already handled is dropped.
MESSAGE_ID_KEY = "message_id"


def allowed_origins(env: Mapping[str, str]) -> frozenset[str]:
    """The web origins whose pages may connect (RASA_CORS_ORIGINS, comma-separated), lower-cased."""
    configured = env.get(ORIGINS_VARIABLE, "")
    return frozenset(origin.strip().rstrip("/").lower() for origin in configured.split(",") if origin.strip())


class CheckedSocketIOInput(SocketIOInput):
    """Rasa's socket.io input channel with signed sessions, an Origin check and a `MessageGuard`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = MessageGuard(max_chars=max_chars_from(os.environ), trusted=False)
        self.sessions = WidgetSessions.from_env(os.environ)
        self.origins = allowed_origins(os.environ)
        self.seen_messages = SeenMessageIds()
        if not self.origins:
            logger.warning("%s is not set: no web page can open the widget's channel", ORIGINS_VARIABLE)
        # Conversations always outlive a socket: a reconnecting widget resumes its session by its token.
        self.session_persistence = True

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        # The lambda reads `blueprint` when a message arrives: by then Rasa has registered it on its app.
        blueprint = super().blueprint(self.guard.wrap(on_new_message, lambda: agent_of(blueprint)))
        self._refuse_foreign_origins()
        self._issue_sessions()
        self._accept_only_text_messages_of_the_socket_session()
        return blueprint

    def _refuse_foreign_origins(self) -> None:
        """Put an Origin check in front of engine.io's request handler, which Sanic routes to when Rasa
        registers the blueprint (after this method)."""
        assert self.sio is not None  # set by SocketIOInput.blueprint
        engineio_handler = self.sio.eio.handle_request

        async def handle_request(request: Request) -> HTTPResponse:
            origin = request.headers.get("origin")
            if origin is not None and origin.rstrip("/").lower() not in self.origins:
                logger.info("socket.io request from origin %r refused", origin)
                return response.text("origin not allowed", status=403)
            answer: HTTPResponse = await engineio_handler(request)
            return answer

        self.sio.eio.handle_request = handle_request

    def _issue_sessions(self) -> None:
        """Replace Rasa's `session_request` handler, which takes the session id the client names."""
        assert self.sio is not None
        sio = self.sio

        async def session_request(sid: str, data: Any) -> None:
            presented = data.get("session_id") if isinstance(data, dict) else None
            token = self.sessions.verified(presented)
            if token is None:
                token = self.sessions.issue()
                if presented is not None:
                    logger.info("socket %s presented no valid session token: new session issued", sid)
            sender_id = self.sessions.sender_id(token)
            session = await sio.get_session(sid, namespace=self.namespace)
            previous = session.get(_SENDER_KEY)
            if previous is not None and previous != sender_id:
                sio.leave_room(sid, previous, namespace=self.namespace)
            await sio.save_session(sid, {**session, _SENDER_KEY: sender_id}, namespace=self.namespace)
            sio.enter_room(sid, sender_id, namespace=self.namespace)
            await sio.emit("session_confirm", token, room=sid, namespace=self.namespace)

        sio.on("session_request", session_request, namespace=self.namespace)

    def _accept_only_text_messages_of_the_socket_session(self) -> None:
        """Put two checks in front of Rasa's handler of user messages, which takes the sender id from the
        message and assumes a dict with a text: the sender id becomes the socket's verified one (a socket
        without a session is dropped), and anything else sent as the message becomes no text (answered
        politely); an event that is not a dict is dropped."""
        assert self.sio is not None
        sio = self.sio
        namespace = self.namespace or "/"
        rasa_handler: SocketEventHandler = sio.handlers[namespace][self.user_message_evt]

        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                logger.info("%s without a message object from socket %s dropped", self.user_message_evt, sid)
                return
            sender_id = (await sio.get_session(sid, namespace=self.namespace)).get(_SENDER_KEY)
            if sender_id is None:
                logger.info("%s from socket %s without a session dropped", self.user_message_evt, sid)
                return
            sent_id = message_id(data.get(MESSAGE_ID_KEY))
            if sent_id is not None and not self.seen_messages.first_time(sender_id, sent_id):
                # Acknowledged all the same (by returning): the widget stops sending it.
                logger.info("%s %s from socket %s is a resend: dropped", self.user_message_evt, sent_id, sid)
                return
            data = {**data, "session_id": sender_id}
            if not isinstance(data.get("message"), str):
                data = {**data, "message": ""}
            if self.metadata_key in data and not isinstance(_metadata_object(data[self.metadata_key]), dict):
                # Rasa json.loads a metadata string and passes anything on: only an object is kept.
                data = {key: value for key, value in data.items() if key != self.metadata_key}
            await rasa_handler(sid, data)

        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)


def _metadata_object(metadata: Any) -> Any:
    """The metadata as Rasa will read it: a JSON string is parsed, anything else taken as it is."""
    if isinstance(metadata, str):
        try:
            return json.loads(metadata)
        except ValueError:
            return None
    return metadata
