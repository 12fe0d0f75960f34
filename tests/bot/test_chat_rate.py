"""bot/channels/chat_rate.py: the sliding window of messages per conversation, with an injected clock."""

from __future__ import annotations

import pytest

from bot.channels.chat_rate import (
    DEFAULT_MESSAGES,
    DEFAULT_WINDOW_SECONDS,
    ChatRateLimitError,
    ConversationRateLimit,
    rate_limit_from,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_is_30_a_minute_unless_the_environment_says_otherwise() -> None:
    default = rate_limit_from({})
    assert (
        (default.max_messages, default.window_seconds)
        == (DEFAULT_MESSAGES, DEFAULT_WINDOW_SECONDS)
        == (
            30,
            60.0,
        )
    )
    blank = rate_limit_from({"CHAT_MESSAGES_PER_WINDOW": " ", "CHAT_RATE_WINDOW_SECONDS": ""})
    assert (blank.max_messages, blank.window_seconds) == (30, 60.0)
    chosen = rate_limit_from({"CHAT_MESSAGES_PER_WINDOW": "5", "CHAT_RATE_WINDOW_SECONDS": "2.5"})
    assert (chosen.max_messages, chosen.window_seconds) == (5, 2.5)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CHAT_MESSAGES_PER_WINDOW", "0"),
        ("CHAT_MESSAGES_PER_WINDOW", "-3"),
        ("CHAT_MESSAGES_PER_WINDOW", "2.5"),
        ("CHAT_MESSAGES_PER_WINDOW", "many"),
        ("CHAT_RATE_WINDOW_SECONDS", "0"),
        ("CHAT_RATE_WINDOW_SECONDS", "nan"),
        ("CHAT_RATE_WINDOW_SECONDS", "inf"),
        ("CHAT_RATE_WINDOW_SECONDS", "a minute"),
    ],
)
def test_an_unusable_setting_is_refused_with_the_variable_named(variable: str, value: str) -> None:
    with pytest.raises(ChatRateLimitError, match=variable):
        rate_limit_from({variable: value})


def test_a_conversation_over_the_limit_is_refused_until_its_oldest_message_leaves_the_window() -> None:
    clock = Clock()
    limit = ConversationRateLimit(3, 10.0, clock)
    assert [limit.admit("ada") for _ in range(3)] == [True, True, True]
    assert not limit.admit("ada")
    assert limit.admit("bob"), "another conversation has its own window"
    clock.now += 9.9
    assert not limit.admit("ada")
    clock.now += 0.2  # the first three are now older than the window
    assert [limit.admit("ada") for _ in range(4)] == [True, True, True, False]


def test_the_window_slides_refused_messages_do_not_count() -> None:
    clock = Clock()
    limit = ConversationRateLimit(2, 10.0, clock)
    assert limit.admit("ada")
    clock.now += 6
    assert limit.admit("ada")
    assert not limit.admit("ada")
    clock.now += 5  # the first left the window, the second has not
    assert limit.admit("ada")
    assert not limit.admit("ada")


def test_silent_conversations_are_forgotten() -> None:
    clock = Clock()
    limit = ConversationRateLimit(5, 10.0, clock)
    for sender in range(100):
        limit.admit(f"sender-{sender}")
    assert len(limit) == 100
    clock.now += 11
    limit.admit("new")
    assert len(limit) == 1
