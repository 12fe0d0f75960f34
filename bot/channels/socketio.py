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

Website identity (website_identity.py): a `session_request` may carry the site's `user_id` and `user_hash`.
A pair that verifies binds the user id to the socket's session, and every message of the socket carries it in
its metadata (VERIFIED_USER_KEY, null for a visitor; the browser's own value of that key is dropped), so the
first message of a Rasa session tells the action server who the customer is (actions/identity.py binds the
conversation to them at session start). A pair that does not verify is refused: the socket gets an
`identity_refused` event and no session, and the refusal is logged without the hash. When a visitor's
conversation is verified mid-session, the channel starts a new Rasa session (`/session_start` with the
metadata) so the binding happens now; a token whose conversation was started by another verified user is not
resumed: that user gets a new conversation.

Agent messages: a message a person wrote in the live handoff reaches the widget marked as theirs. The relay
action (actions/handoff.py) utters it with the custom payload `{"agent_message": {"name": ...}}`; this
channel's output (AgentLabellingOutput) sends the text with `sender: {"kind": "agent", "name": ...}` in the
same `bot_uttered` event, and no separate custom event, so the widget labels it (the name shown as text).

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

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from rasa.shared.core.constants import SESSION_START_METADATA_SLOT, USER_INTENT_SESSION_START
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import MessageGuard, MessageHandler, agent_of
from bot.channels.message_ids import SeenMessageIds, message_id
from bot.channels.message_text import max_chars_from
from bot.channels.website_identity import VERIFIED_USER_KEY, WebsiteIdentity
from bot.channels.widget_sessions import WidgetSessions

logger = logging.getLogger(__name__)

SocketEventHandler = Any  # python-socketio's handlers are untyped: async (sid, data) -> None
ORIGINS_VARIABLE = "RASA_CORS_ORIGINS"
# Where a socket's verified sender id is kept: python-socketio's per-socket session, gone on disconnect.
_SENDER_KEY = "sender_id"
# The socket's verified website user id, when its session_request proved one.
_USER_KEY = "website_user"
# What the socket is told when its user_hash does not verify.
IDENTITY_REFUSED_EVENT = "identity_refused"
# The widget's own id of a message (message_ids.py): a resend of a message already handled is dropped.
MESSAGE_ID_KEY = "message_id"


# The custom payload key marking an agent's message (actions/handoff.py AGENT_MESSAGE_KEY).
AGENT_MESSAGE_KEY = "agent_message"


def _agent_of(custom: Any) -> dict[str, Any] | None:
    """The `sender` of a message marked as an agent's, else None."""
    marker = custom.get(AGENT_MESSAGE_KEY) if isinstance(custom, dict) else None
    if not isinstance(marker, dict):
        return None
    name = marker.get("name")
    return {"kind": "agent", "name": name if isinstance(name, str) else None}


class AgentLabellingOutput(SocketIOOutput):
    """Rasa's socket.io output; a text marked as an agent's carries `sender` (see the module docstring)."""

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        sender = _agent_of(kwargs.get("custom"))
        if sender is None:
            await super().send_text_message(recipient_id, text, **kwargs)
            return
        for part in text.strip().split("\n\n"):
            await self._send_message(recipient_id, {"text": part, "sender": sender})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        if _agent_of(json_message) is not None:
            return  # carried by the text it marks
        await super().send_custom_json(recipient_id, json_message, **kwargs)


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
        self.website_identity = WebsiteIdentity.from_env(os.environ)
        self.origins = allowed_origins(os.environ)
        self.seen_messages = SeenMessageIds()
        if not self.origins:
            logger.warning("%s is not set: no web page can open the widget's channel", ORIGINS_VARIABLE)
        # Conversations always outlive a socket: a reconnecting widget resumes its session by its token.
        self.session_persistence = True

    def get_output_channel(self) -> SocketIOOutput | None:
        """The output of what Rasa sends on its own (the handoff relay's trigger_intent): agent-labelling."""
        if self.sio is None:
            return super().get_output_channel()  # type: ignore[no-any-return]
        return AgentLabellingOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        # The lambda reads `blueprint` when a message arrives: by then Rasa has registered it on its app.
        blueprint = super().blueprint(self.guard.wrap(on_new_message, lambda: agent_of(blueprint)))
        # The channel's own messages (a session start) bypass the guard, which refuses typed payloads.
        self._handle_own_message = on_new_message
        self._blueprint = blueprint
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
            request = data if isinstance(data, dict) else {}
            presented = request.get("session_id")
            user = None
            if request.get("user_id") is not None or request.get("user_hash") is not None:
                user = self.website_identity.verified_user(request.get("user_id"), request.get("user_hash"))
                if user is None:
                    # Neither the id nor the hash is logged: the hash is a credential, the id personal data.
                    logger.warning("socket %s presented a website user whose user_hash does not verify", sid)
                    await sio.emit(IDENTITY_REFUSED_EVENT, {}, room=sid, namespace=self.namespace)
                    return
            token = self.sessions.verified(presented)
            if token is None:
                token = self.sessions.issue()
                if presented is not None:
                    logger.info("socket %s presented no valid session token: new session issued", sid)
            bound = await self._bound_user(self.sessions.sender_id(token))
            if user is not None and bound is not None and bound != user:
                logger.info("socket %s: the conversation is another verified user's: new session issued", sid)
                token = self.sessions.issue()
            sender_id = self.sessions.sender_id(token)
            session = await sio.get_session(sid, namespace=self.namespace)
            previous = session.get(_SENDER_KEY)
            if previous is not None and previous != sender_id:
                sio.leave_room(sid, previous, namespace=self.namespace)
            session = {**session, _SENDER_KEY: sender_id, _USER_KEY: user}
            await sio.save_session(sid, session, namespace=self.namespace)
            sio.enter_room(sid, sender_id, namespace=self.namespace)
            await sio.emit("session_confirm", token, room=sid, namespace=self.namespace)
            if user is not None and bound is None and await self._has_conversation(sender_id):
                await self._start_verified_session(sender_id, user)

        sio.on("session_request", session_request, namespace=self.namespace)

    async def _tracker(self, sender_id: str) -> Any:
        agent = agent_of(self._blueprint)
        if agent.tracker_store is None:
            return None
        return await agent.tracker_store.retrieve(sender_id)

    async def _has_conversation(self, sender_id: str) -> bool:
        tracker = await self._tracker(sender_id)
        return tracker is not None and bool(tracker.events)

    async def _bound_user(self, sender_id: str) -> str | None:
        """The verified website user the conversation's current Rasa session was started with, if any."""
        tracker = await self._tracker(sender_id)
        if tracker is None:
            return None
        metadata = tracker.get_slot(SESSION_START_METADATA_SLOT)
        user = metadata.get(VERIFIED_USER_KEY) if isinstance(metadata, dict) else None
        return user if isinstance(user, str) else None

    async def _start_verified_session(self, sender_id: str, user: str) -> None:
        """A visitor verified mid-conversation: a new Rasa session carrying the user (slots carried over), so
        action_session_start binds the conversation, and its anonymous customer is merged, before the next
        message."""
        assert self.sio is not None
        logger.info("conversation %s verified a website user: new session started", sender_id)
        await self._handle_own_message(
            UserMessage(
                f"/{USER_INTENT_SESSION_START}",
                SocketIOOutput(self.sio, self.bot_message_evt),
                sender_id,
                input_channel=self.name(),
                metadata={VERIFIED_USER_KEY: user},
            )
        )

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
            socket_session = await sio.get_session(sid, namespace=self.namespace)
            sender_id = socket_session.get(_SENDER_KEY)
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
            # The verified user is the socket's, never the browser's: set on every message (null for a
            # visitor), so the metadata a session starts with always says who it is.
            sent_metadata = _metadata_object(data.get(self.metadata_key)) or {}
            data[self.metadata_key] = {**sent_metadata, VERIFIED_USER_KEY: socket_session.get(_USER_KEY)}
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
