"""The live handoff through the whole running service (cs_backend + action server + Rasa, real model): an
agent online takes the customer's chat on the widget, the bot relays both ways and stays silent, and when the
agent resolves it the bot is back and asks CSAT about the agent's help (docs/HANDOFF.md)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import aiohttp
import pytest
from chat_clients import SocketChat
from e2e_support import RunningService

from launcher.stack import backend_command
from tests.support import REPO_ROOT

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "correct horse battery staple"


async def _agent_session(service: RunningService, email: str) -> dict[str, str]:
    """An agent created with the CLI, signed in and online: their bearer header."""
    made = await asyncio.to_thread(
        subprocess.run,
        [*backend_command("create-agent"), "--email", email, "--name", "Ana Agent", "--languages", "en"],
        input=PASSWORD + "\n",
        cwd=REPO_ROOT,
        env={**os.environ, **service.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    signed_in = await _call(service, "POST", "/api/auth/login", {}, {"email": email, "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {signed_in['token']}"}
    await _call(service, "PUT", "/api/routing/agents/me/status", bearer, {"status": "online"})
    return bearer


async def _call(
    service: RunningService, method: str, path: str, headers: dict[str, str], body: Any = None
) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{service.ports.backend_url}{path}", json=body, headers=headers) as response,
    ):
        assert response.status < 300, f"{method} {path}: {response.status} {await response.text()}"
        return await response.json()


async def _said(chat: SocketChat, count: int, within: float = 30) -> list[str]:
    return [(await asyncio.wait_for(chat.inbox.get(), within)).get("text", "") for _ in range(count)]


async def test_an_agent_takes_the_chat_and_hands_it_back(service: RunningService) -> None:
    bearer = await _agent_session(service, "ana.live@example.com")
    chat = SocketChat(service.ports.rasa_url)
    await chat.connect()
    try:
        turn = await chat.say("I want to talk to a real person")
        assert "Ana Agent will join in a moment" in turn.text, turn.text
        sender = service.widget_sender(chat.token)
        queue = await _call(service, "GET", "/api/routing/queue", bearer)
        (handoff,) = [item for item in queue["held"] if item["sender_id"] == sender]

        await _call(service, "POST", f"/api/routing/handoffs/{handoff['id']}/accept", bearer)
        assert await _said(chat, 1) == ["You're now chatting with Ana Agent."]

        reply = "Hi, Ana here. <b>What</b> happened?"
        await _call(
            service, "POST", f"/api/routing/handoffs/{handoff['id']}/messages", bearer, {"text": reply}
        )
        assert await _said(chat, 1) == [reply]  # exactly the agent's text, nothing else

        # the customer's messages go to the agent, whatever they look like to the NLU; the bot says nothing
        for text in ("hello there", "how much does the pro plan cost?"):
            await chat.client.emit("user_uttered", {"message": text})
        await asyncio.sleep(3)
        assert chat.inbox.empty()
        transcript = await _call(service, "GET", f"/api/routing/handoffs/{handoff['id']}/messages", bearer)
        entries = transcript["items"] if isinstance(transcript, dict) else transcript
        customer = [entry["text"] for entry in entries if entry["kind"] == "customer"]
        assert customer == ["hello there", "how much does the pro plan cost?"]

        await _call(service, "POST", f"/api/routing/handoffs/{handoff['id']}/resolve", bearer)
        back, question = await _said(chat, 2)
        assert back.startswith("Our support team has handed the conversation back to me")
        assert question == "How would you rate this support experience from 1 to 5?"
    finally:
        await chat.close()
        # The service is shared by the session's other tests: they expect nobody online to take a handoff.
        await _call(service, "PUT", "/api/routing/agents/me/status", bearer, {"status": "offline"})
