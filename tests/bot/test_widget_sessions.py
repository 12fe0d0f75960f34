"""bot/channels/widget_sessions.py: the widget's session tokens and the sender ids derived from them."""

from __future__ import annotations

import re

import pytest

from bot.channels.widget_sessions import WidgetSessions, WidgetSessionSecretError

SECRET = "widget-session-secret-of-the-tests-0123456789"
SESSIONS = WidgetSessions(SECRET)


def test_each_issued_token_is_new_and_verifies() -> None:
    tokens = {SESSIONS.issue() for _ in range(1000)}
    assert len(tokens) == 1000
    for token in tokens:
        assert SESSIONS.verified(token) == token
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}", token)


def test_the_sender_id_is_fixed_per_token_and_reveals_nothing_of_it() -> None:
    token = SESSIONS.issue()
    sender_id = SESSIONS.sender_id(token)
    assert sender_id == SESSIONS.sender_id(token) == WidgetSessions(SECRET).sender_id(token)
    assert re.fullmatch(r"widget-[0-9a-f]{32}", sender_id)
    random_part, signature = token.split(".")
    assert random_part not in sender_id and signature not in sender_id
    assert SESSIONS.sender_id(SESSIONS.issue()) != sender_id
    # Under another secret, the same token stands for another conversation (and does not verify).
    other = WidgetSessions("another-secret-of-at-least-32-characters")
    assert other.sender_id(token) != sender_id and other.verified(token) is None


def test_only_a_token_signed_with_the_secret_verifies() -> None:
    token = SESSIONS.issue()
    random_part, signature = token.split(".")
    forged = [
        SESSIONS.sender_id(token),
        SESSIONS.sender_id(token).removeprefix("widget-"),
        random_part,
        f"{random_part}.",
        f"{random_part}.{'A' * 43}",
        f"{random_part[:-1]}{'B' if random_part[-1] != 'B' else 'C'}.{signature}",
        f"{random_part}.{signature[:-1]}{'B' if signature[-1] != 'B' else 'C'}",
        f"{token}=",
        f" {token}",
        token.upper(),
        WidgetSessions("another-secret-of-at-least-32-characters").issue(),
        "a" * 76,
        "",
        None,
        42,
        [token],
    ]
    assert [presented for presented in forged if SESSIONS.verified(presented) is not None] == []


@pytest.mark.parametrize("secret", ["", " " * 40, "x" * 31])
def test_a_missing_or_short_secret_is_refused(secret: str) -> None:
    with pytest.raises(WidgetSessionSecretError, match="WIDGET_SESSION_SECRET"):
        WidgetSessions(secret)
    with pytest.raises(WidgetSessionSecretError):
        WidgetSessions.from_env({"WIDGET_SESSION_SECRET": secret})
    with pytest.raises(WidgetSessionSecretError):
        WidgetSessions.from_env({})


def test_the_secret_is_not_in_the_repr() -> None:
    assert SECRET not in repr(SESSIONS)
