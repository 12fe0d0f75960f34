"""Chat input fuzz through the REST channel of the running service (issue 9): whatever a caller sends, the bot
answers or refuses politely, never with a 5xx, and keeps answering afterwards.

A fixed corpus of nasty inputs (very long, control characters, NUL, lone surrogates, Chinese, Arabic and RTL
marks, emoji and ZWJ sequences, typed-intent look-alikes, JSON-looking text, messages and senders that are not
strings, bodies that are not JSON objects), then messages and bodies drawn by hypothesis, derandomized and
bounded. Requests are sent with `requests` from a worker thread: hypothesis runs synchronous tests.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from chat_clients import RestChat
from e2e_support import RunningService
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.message_text import clean_text

pytestmark = pytest.mark.asyncio(loop_scope="session")

MAX_EXAMPLES = 30
# Every answer, even to a refused 100,000-character message, comes well within this.
ANSWER_WITHIN_SECONDS = 30.0
# A message through Rasa's failure path ("rest.message.received.failure") gets a 200 with no answer at all.
RASA_FAILURE_MARKERS = ("rest.message.received.failure", "Traceback (most recent call last)")

NASTY_MESSAGES: list[Any] = [
    "x" * 100_000,
    "my export is broken " * 101,  # just over 2,000 characters
    "y" * 2_000,
    "",
    "   \n\t  ",
    "\x00",
    "my\x00 export\x1b[31m is\r\n broken\x7f",
    "\ud800",  # a lone surrogate: json.dumps sends it as the escape \ud800
    "bug \udfff report",
    "我的导出功能坏了，请帮忙",
    "لدي مشكلة في الفاتورة",
    "\u202eevil\u202c and \u200fright-to-left\u200e marks",
    "Mix: 账单 billing فاتورة счёт 🧾",
    "🔥🔥🔥",
    "👩‍💻👨‍👩‍👧‍👦🏳️‍🌈🇫🇷👍🏽",
    "\u200d\u200d\u200d",
    "/EXTERNAL_onboarding_nudge",
    '/rate{"csat": 99}',
    '/inform{"email": "someone@example.com"}',
    '/inform{"priority": [1, {"a": null}]}',
    "/inform{" + '"a":' * 500 + "1" + "}" * 500,
    "/",
    "//",
    "/nlu_fallback",
    '{"sender": "someone-else", "message": "hi"}',
    "[1, 2, 3]",
    "null",
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "' OR 1=1; DROP TABLE tickets; --",
    42,
    3.5,
    True,
    None,
    [],
    ["hi"],
    {"text": "hi"},
]
# Not text of 1-200 characters without control characters (bot/channels/rest.py).
BAD_SENDERS: list[Any] = [42, None, [], ["s"], {"id": "s"}, True, "", "a\x00b", "\ud800", " s", "s" * 201]
NOT_JSON_OBJECTS = [
    b"",
    b"   ",
    b"[]",
    b"null",
    b"42",
    b'"hello"',
    b"{",
    b'{"sender": "s"',
    b"\xff\xfe",
    b"[" * 10_000,
]


def new_sender() -> str:
    return f"fuzz-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class RestChannel:
    """The REST channel's URL and its bearer token (RASA_REST_TOKEN)."""

    url: str
    token: str


def post(channel: RestChannel, body: bytes) -> requests.Response:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {channel.token}"}
    return requests.post(channel.url, data=body, headers=headers, timeout=ANSWER_WITHIN_SECONDS)


def assert_polite(response: requests.Response, sent: Any) -> None:
    """A 200 with the bot's messages, or a 400 with a JSON error; never anything else."""
    assert response.status_code in (200, 400), (response.status_code, response.text[:500], repr(sent)[:200])
    answer = response.json()
    if response.status_code == 400:
        assert answer["error"]["status"] == 400 and answer["error"]["fields"], answer
        return
    assert isinstance(answer, list), answer
    is_text = isinstance(sent, dict) and isinstance(sent.get("message"), str)
    typed_payload = is_text and clean_text(sent["message"]).startswith("/")
    if not typed_payload:  # a typed intent may be one the bot answers with silence (trusted channel)
        assert answer and all(isinstance(m.get("text"), str) or m.get("buttons") for m in answer), (
            repr(sent)[:200],
            answer,
        )


def send_message(channel: RestChannel, message: Any, sender: Any = None) -> None:
    body = {"sender": new_sender() if sender is None else sender, "message": message}
    assert_polite(post(channel, json.dumps(body).encode()), body)


def rasa_failures(service: RunningService) -> list[str]:
    log = (service.log_dir / "rasa.log").read_text(errors="replace")
    return [line for line in log.splitlines() if any(marker in line for marker in RASA_FAILURE_MARKERS)]


def fuzz_the_channel(channel: RestChannel) -> int:
    """Send the corpus and the drawn inputs; returns how many requests were sent."""
    sent = 0
    drawn_examples = 0
    for body in NOT_JSON_OBJECTS:
        response = post(channel, body)
        assert response.status_code == 400 and "body" in response.json()["error"]["fields"], response.text
        sent += 1
    for sender in BAD_SENDERS:
        response = post(channel, json.dumps({"sender": sender, "message": "hello"}).encode())
        assert response.status_code == 400 and "sender" in response.json()["error"]["fields"], response.text
        sent += 1
    for message in NASTY_MESSAGES:
        send_message(channel, message)
        sent += 1

    drawn = settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    # Any text (surrogates and control characters included), mixed with the corpus's awkward pieces.
    pieces = st.sampled_from(["/", "{", '"', "\x00", "\u202e", "👩‍💻", "我", "ف", "\ud800", "\n", " "])
    texts = st.one_of(
        st.text(max_size=300),
        st.lists(st.one_of(pieces, st.text(max_size=20)), max_size=30).map("".join),
        st.text(min_size=1_990, max_size=2_010, alphabet="ab "),
    )
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=10,
    )

    @drawn
    @given(message=texts)
    def any_text(message: str) -> None:
        nonlocal drawn_examples
        drawn_examples += 1
        send_message(channel, message)

    @drawn
    @given(message=json_values, sender=st.one_of(st.just("fuzz-shared"), json_values))
    def any_json_values(message: Any, sender: Any) -> None:
        nonlocal drawn_examples
        drawn_examples += 1
        body = {"sender": sender, "message": message}
        assert_polite(post(channel, json.dumps(body).encode()), body)

    @drawn
    @given(body=st.one_of(st.binary(max_size=200), json_values.map(lambda value: json.dumps(value).encode())))
    def any_body(body: bytes) -> None:
        nonlocal drawn_examples
        drawn_examples += 1
        assert_polite(post(channel, body), body)

    for fuzz in (any_text, any_json_values, any_body):
        fuzz()
    return sent + drawn_examples


async def test_any_chat_input_gets_a_polite_answer_or_refusal_and_the_bot_goes_on(
    service: RunningService,
) -> None:
    channel = RestChannel(f"{service.ports.rasa_url}/webhooks/rest/webhook", service.rest_token)
    failures_before = rasa_failures(service)
    started = time.monotonic()
    sent = await asyncio.to_thread(fuzz_the_channel, channel)
    elapsed = time.monotonic() - started
    print(f"chat input fuzz: {sent} requests in {elapsed:.1f} s")

    # Still answering, and remembering: a ticket conversation starts as usual.
    chat = RestChat(service.ports.rasa_url, service.rest_token)
    turn = await chat.say("I found a bug")
    assert turn.texts and (await service.form_state(chat.sender))[0] == "description", turn
    assert rasa_failures(service) == failures_before  # no message went through Rasa's failure path
