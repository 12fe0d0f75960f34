"""A simulated customer: reports a bug, gives the ticket form what it asks, rates the help, and believes what
the assistant says.

The customer reads what the form asks from Rasa's tracker API (as tests/e2e/test_support_conversation.py does)
and what was done from the bot's words: a ticket number, "saved, it will reach the team shortly" (a write the
action server queued), "NOT saved", "thanks for your feedback", "couldn't save your rating". It behaves as a
patient person: a message that gets no answer (Rasa down, a socket cut), or "please send your message again in
a moment" (the action server down), is sent again a moment later, and after "not saved" it does what it was
told (asks again for the ticket, gives the rating once more).

Each customer carries a marker: its email address (`<marker>@example.com`) and a word of its ticket's
description, so that the ledger finds its writes, and only its, in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

from tests.e2e.chat_clients import BotTurn, RestChat, SocketChat
from tests.faults.stack import FaultStack

CSAT, CES = 5, 6
DESCRIPTION = "The CSV export button does nothing when I click it on the reports page, reference {marker}"
PRIORITY = "high"
# The form's slots the customer answers, and what it answers.
TICKET_SLOTS = ("description", "email", "priority")
RATING_SLOTS = ("csat_score", "ces_score")
# What the customer says when the assistant is not asking anything and something is still to do.
OPEN_TICKET = "I found a bug"
TICKET_AGAIN = "open a ticket"  # what utter_ticket_not_saved tells the customer to say
RATING_AGAIN = f"{CSAT} stars"  # what utter_feedback_not_saved tells the customer to send
LEAVE_RATING = "I want to rate this conversation"

# What the bot's words mean (domain.yml responses).
TICKET_CREATED = re.compile(r"ticket #\s?(\d+) is open", re.IGNORECASE)
TICKET_NOT_SAVED = re.compile(r"ticket is NOT saved")
RATING_SAVED = re.compile(r"Thanks for your feedback")
RATING_NOT_SAVED = re.compile(r"couldn't save your rating")
# A write the action server could not confirm but stored in its outbox (contract 2).
QUEUED = re.compile(r"saved and will reach (?:the |our )?(?:support )?team shortly", re.IGNORECASE)
# utter_turn_failed: the bot could not run its actions (the action server is away) and asks to send the
# message again in a moment, which the customer does, after a moment (as after no answer at all).
TRY_AGAIN_SHORTLY = re.compile(r"send your message again in a moment")

PAUSE_AFTER_SILENCE_SECONDS = 2.0
# The first reply to a message may take the action client's budget for each write (20 s, the outbox's
# actions/api/client.py) before it says the write is kept for later: a rating is two writes.
FIRST_REPLY_SECONDS = 90.0
MAX_TURNS = 24


@dataclass
class Told:
    """What the assistant told the customer about its writes."""

    ticket_numbers: list[int] = field(default_factory=list)
    ticket_queued: int = 0
    ticket_failed: int = 0
    rating_saved: int = 0
    rating_queued: int = 0
    rating_failed: int = 0
    unanswered: int = 0

    @property
    def ticket_acknowledged(self) -> bool:
        return bool(self.ticket_numbers) or self.ticket_queued > 0

    @property
    def rating_acknowledged(self) -> bool:
        return self.rating_saved > 0 or self.rating_queued > 0


class _Channel:
    """One way to reach Rasa; `say` answers None when no answer came (the customer will try again)."""

    name = ""

    async def say(self, message: str) -> BotTurn | None:
        raise NotImplementedError

    async def sender(self) -> str:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class _Rest(_Channel):
    name = "rest"

    def __init__(self, stack: FaultStack, marker: str) -> None:
        self.chat = RestChat(stack.rasa_url, stack.rest_token, sender=f"faults-{marker}")

    async def say(self, message: str) -> BotTurn | None:
        try:
            return await self.chat.say(message)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return None

    async def sender(self) -> str:
        return self.chat.sender


class _Socket(_Channel):
    """The widget's channel; after a cut it connects again with the same session token (same conversation)."""

    name = "socketio"

    def __init__(self, stack: FaultStack) -> None:
        self.stack = stack
        self.token: Any = None
        self.chat: SocketChat | None = None

    async def _connected(self) -> SocketChat:
        if self.chat is not None and self.chat.client.connected:
            return self.chat
        await self._drop()
        chat = SocketChat(self.stack.rasa_url, token=self.token)
        try:
            await chat.connect()
        except BaseException:
            await _quietly_disconnect(chat)
            raise
        self.token = chat.token
        self.chat = chat
        return chat

    async def say(self, message: str) -> BotTurn | None:
        try:
            chat = await self._connected()
            return await chat.say(message, first_within=FIRST_REPLY_SECONDS)
        except (socketio.exceptions.SocketIOError, asyncio.TimeoutError, OSError):
            await self._drop()
            return None

    async def sender(self) -> str:
        if self.token is None:
            while True:
                try:
                    await self._connected()
                    break
                except (socketio.exceptions.SocketIOError, asyncio.TimeoutError, OSError):
                    await self._drop()
                    await asyncio.sleep(PAUSE_AFTER_SILENCE_SECONDS)
        return self.stack.widget_sender(self.token)

    async def _drop(self) -> None:
        if self.chat is not None:
            await _quietly_disconnect(self.chat)
            self.chat = None

    async def close(self) -> None:
        await self._drop()


async def _quietly_disconnect(chat: SocketChat) -> None:
    with contextlib.suppress(socketio.exceptions.SocketIOError, asyncio.TimeoutError, OSError):
        await asyncio.wait_for(chat.close(), 5)


class Customer:
    """One customer's conversation: a ticket, then a CSAT and a CES rating.

    `gate`, when given, is awaited before the answer that completes the ticket form (the priority): the fault
    is injected while such customers wait there, so their writes meet it.
    """

    def __init__(
        self, stack: FaultStack, channel: str, fault: str, gate: asyncio.Event | None = None
    ) -> None:
        self.stack = stack
        self.fault = fault
        self.marker = f"fx{secrets.token_hex(5)}"
        self.email = f"{self.marker}@example.com"
        self.description = DESCRIPTION.format(marker=self.marker)
        self.channel: _Channel = _Rest(stack, self.marker) if channel == "rest" else _Socket(stack)
        self.gate = gate
        self.at_gate = asyncio.Event()  # set when waiting at the gate, or when it will never come there
        self.told = Told()
        self.sender_id = ""
        self.transcript: list[str] = []

    @property
    def channel_name(self) -> str:
        return self.channel.name

    async def run(self, deadline: float) -> None:
        try:
            self.sender_id = await self.channel.sender()
            await self._say(OPEN_TICKET, about="ticket")
            for _ in range(MAX_TURNS):
                if time.monotonic() > deadline:
                    break
                message, about = await self._next_message()
                if message is None:
                    break
                if about == "ticket-last" and self.gate is not None and not self.gate.is_set():
                    self.at_gate.set()
                    await self.gate.wait()
                await self._say(message, about=about)
        finally:
            self.at_gate.set()
            await self.channel.close()

    async def _next_message(self) -> tuple[str | None, str]:
        """What to say now: the answer to what the form asks, else what is still to do."""
        tracker = await self._tracker()
        slot = tracker["slots"].get("requested_slot")
        if slot in TICKET_SLOTS:
            return self._ticket_answer(slot), "ticket-last" if slot == "priority" else "ticket"
        if slot == "csat_score":
            return str(CSAT), "rating"
        if slot == "ces_score":
            return str(CES), "rating"
        if not self.told.ticket_acknowledged:
            # Told "not saved", the customer asks again as told; never told anything, it starts over.
            return (TICKET_AGAIN if self.told.ticket_failed else OPEN_TICKET), "ticket-last"
        if not self.told.rating_acknowledged:
            return (RATING_AGAIN if self.told.rating_failed else LEAVE_RATING), "rating"
        return None, ""

    def _ticket_answer(self, slot: str) -> str:
        return {"description": self.description, "email": self.email, "priority": PRIORITY}[slot]

    async def _tracker(self) -> dict[str, Any]:
        """The tracker, waiting while Rasa is away (a restart)."""
        while True:
            try:
                return await self.stack.tracker(self.sender_id)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(PAUSE_AFTER_SILENCE_SECONDS)

    async def _say(self, message: str, *, about: str) -> None:
        turn = await self.channel.say(message)
        self.transcript.append(f"> {message}")
        # No answer, or an empty one (Rasa's REST channel while the action server is away): a person waits a
        # moment before trying again, rather than using up their turns during the outage.
        if turn is None or not turn.text.strip():
            self.told.unanswered += 1
            self.transcript.append("< (no answer)")
            await asyncio.sleep(PAUSE_AFTER_SILENCE_SECONDS)
            return
        self.transcript.append(f"< {turn.text}")
        self._read(turn.text, about)
        if TRY_AGAIN_SHORTLY.search(turn.text):
            await asyncio.sleep(PAUSE_AFTER_SILENCE_SECONDS)

    def _read(self, text: str, about: str) -> None:
        for number in (int(found) for found in TICKET_CREATED.findall(text)):
            if number not in self.told.ticket_numbers:
                self.told.ticket_numbers.append(number)
        if TICKET_NOT_SAVED.search(text):
            self.told.ticket_failed += 1
        if QUEUED.search(text):
            if about.startswith("ticket"):
                self.told.ticket_queued += 1
            else:
                self.told.rating_queued += 1
        elif RATING_SAVED.search(text):
            self.told.rating_saved += 1
        if RATING_NOT_SAVED.search(text):
            self.told.rating_failed += 1
