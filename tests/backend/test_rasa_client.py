"""RasaClient (cs_backend/rasa_client.py) against a fake Rasa HTTP API: the request it sends, and a RasaError
for every way a call can fail."""

from __future__ import annotations

import pytest
from aiohttp import ClientTimeout

from cs_backend.rasa_client import RasaClient, RasaError, trigger_intent_url

from .fake_rasa import FakeRasa


async def test_trigger_intent_sends_the_intent_to_the_conversation(rasa: FakeRasa) -> None:
    async with RasaClient(rasa.url) as client:
        await client.trigger_intent("user 1/é?", "EXTERNAL_ping", {"step": "sign_up"}, "socketio")
    assert rasa.requests == [
        {
            "sender_id": "user 1/é?",
            "raw_path": "/conversations/user%201%2F%C3%A9%3F/trigger_intent",
            "query": {"output_channel": "socketio"},
            "json": {"name": "EXTERNAL_ping", "entities": {"step": "sign_up"}},
            "content_type": "application/json",
        }
    ]


async def test_an_answer_other_than_2xx_raises_with_status_and_answer(rasa: FakeRasa) -> None:
    rasa.status = 500
    async with RasaClient(rasa.url) as client:
        with pytest.raises(RasaError, match=r"^Rasa answered 500: .*boom"):
            await client.trigger_intent("sender", "EXTERNAL_ping", {}, "rest")
    assert len(rasa.requests) == 1


async def test_a_slow_or_unreachable_rasa_raises(rasa: FakeRasa) -> None:
    async with RasaClient(rasa.url, timeout=ClientTimeout(total=0.2)) as client:
        rasa.delay = 1.0
        with pytest.raises(RasaError, match="no answer from Rasa"):
            await client.trigger_intent("sender", "EXTERNAL_ping", {}, "rest")

        url = rasa.url
        assert rasa.server is not None
        await rasa.server.close()  # nothing listens there any more
        with pytest.raises(RasaError, match=f"no answer from Rasa at {url}"):
            await client.trigger_intent("sender", "EXTERNAL_ping", {}, "rest")


@pytest.mark.parametrize(
    ("rasa_url", "sender_id", "expected"),
    [
        ("http://127.0.0.1:5005", "abc", "http://127.0.0.1:5005/conversations/abc/trigger_intent"),
        ("http://rasa:5005/", "a/b c", "http://rasa:5005/conversations/a%2Fb%20c/trigger_intent"),
        ("https://bots.example/rasa/", "x", "https://bots.example/rasa/conversations/x/trigger_intent"),
    ],
)
def test_trigger_intent_url(rasa_url: str, sender_id: str, expected: str) -> None:
    assert str(trigger_intent_url(rasa_url, sender_id)) == expected
