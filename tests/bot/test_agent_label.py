"""The widget's channel output (bot/channels/socketio.py AgentLabellingOutput): a text the relay action
marked as an agent's goes out in one `bot_uttered` event with `sender`; anything else as Rasa's socket.io
output sends it. The socket.io server is a recording stand-in (python-socketio is the platform here)."""

from __future__ import annotations

from typing import Any

from bot.channels.socketio import AgentLabellingOutput


class RecordingServer:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any, Any]] = []

    async def emit(self, event: str, data: Any = None, room: Any = None, **_: Any) -> None:
        self.emitted.append((event, data, room))


async def test_an_agents_text_carries_the_sender_and_no_separate_custom_event() -> None:
    server = RecordingServer()
    output = AgentLabellingOutput(server, "bot_uttered")
    message = {"text": "Hi, I'm Ana <b>x</b>", "custom": {"agent_message": {"name": "Ana"}}}
    await output.send_response("widget-1", message)
    labelled = {"text": "Hi, I'm Ana <b>x</b>", "sender": {"kind": "agent", "name": "Ana"}}
    assert server.emitted == [("bot_uttered", labelled, "widget-1")]


async def test_the_bots_text_is_sent_as_before() -> None:
    server = RecordingServer()
    output = AgentLabellingOutput(server, "bot_uttered")
    await output.send_response("widget-1", {"text": "Hello"})
    assert server.emitted == [("bot_uttered", {"text": "Hello"}, "widget-1")]
