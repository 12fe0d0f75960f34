"""RasaClient (cs_backend/rasa_client.py) against a fake Rasa HTTP API: the request it sends (with the API's
token), a RasaError for every way a call can fail, and the token in no error."""

from __future__ import annotations

import pytest
from aiohttp import ClientTimeout

from cs_backend.rasa_client import RasaClient, RasaError, trigger_intent_url

from .fake_rasa import FakeRasa


async def test_trigger_intent_sends_the_intent_to_the_conversation(rasa: FakeRasa) -> None:
    async with RasaClient(rasa.url, auth_token=rasa.token) as client:
        await client.trigger_intent("user 1/é?", "EXTERNAL_ping", {"step": "sign_up"}, "socketio")
    assert rasa.requests == [
        {
            "sender_id": "user 1/é?",
            "raw_path": "/conversations/user%201%2F%C3%A9%3F/trigger_intent",
            "query": {"output_channel": "socketio", "token": rasa.token},
            "json": {"name": "EXTERNAL_ping", "entities": {"step": "sign_up"}},
            "content_type": "application/json",
        }
    ]


async def test_without_the_token_rasa_refuses_the_call(rasa: FakeRasa) -> None:
    async with RasaClient(rasa.url, auth_token=None) as client:
        with pytest.raises(RasaError, match=r"^Rasa answered 401: .*not authenticated"):
            await client.trigger_intent("sender", "EXTERNAL_ping", {}, "rest")
    async with RasaClient(rasa.url, auth_token="not-the-token") as client:
        with pytest.raises(RasaError, match=r"^Rasa answered 401"):
            await client.trigger_intent("sender", "EXTERNAL_ping", {}, "rest")
    assert (rasa.refused, rasa.requests) == (2, [])


async def test_an_answer_other_than_2xx_raises_with_status_and_answer(rasa: FakeRasa) -> None:
    rasa.status = 500
    async with RasaClient(rasa.url, auth_token=rasa.token) as client:
        with pytest.raises(RasaError, match=r"^Rasa answered 500: .*boom"):
            await client.trigger_intent("sender", "EXTERNAL_ping", {}, "rest")
    assert len(rasa.requests) == 1


async def test_a_slow_or_unreachable_rasa_raises(rasa: FakeRasa) -> None:
    async with RasaClient(rasa.url, auth_token=rasa.token, timeout=ClientTimeout(total=0.2)) as client:
        rasa.delay = 1.0
        with pytest.raises(RasaError, match="no answer from Rasa"):
            await client.trigger_intent("sender", "EXTERNAL_ping", {}, "rest")

        url = rasa.url
        assert rasa.server is not None
        await rasa.server.close()  # nothing listens there any more
        with pytest.raises(RasaError, match=f"no answer from Rasa at {url}"):
            await client.trigger_intent("sender", "EXTERNAL_ping", {}, "rest")


async def test_no_error_quotes_the_token(rasa: FakeRasa) -> None:
    """A RasaError's message is logged by its callers (the nudge job): it must not carry the token, nor chain
    the original error, whose text may hold the URL with it."""
    errors: list[RasaError] = []
    async with RasaClient(rasa.url, auth_token=rasa.token, timeout=ClientTimeout(total=0.2)) as client:
        for status, delay in ((500, 0.0), (200, 1.0)):
            rasa.status, rasa.delay = status, delay
            with pytest.raises(RasaError) as failure:
                await client.trigger_intent("sender", "EXTERNAL_ping", {}, "rest")
            errors.append(failure.value)
        assert rasa.server is not None
        await rasa.server.close()
        with pytest.raises(RasaError) as failure:
            await client.trigger_intent("sender", "EXTERNAL_ping", {}, "rest")
        errors.append(failure.value)
    assert len(rasa.requests) == 2  # the token did reach Rasa
    assert [error for error in errors if rasa.token in str(error) or error.__cause__ is not None] == []


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
