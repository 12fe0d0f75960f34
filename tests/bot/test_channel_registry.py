"""bot/channels/registry.py and the channels' `credentials_from_env`: every messaging channel from the
environment, off when unconfigured; the credentials file Rasa starts with, and the channels that are on."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from rasa.core.run import create_http_input_channels
from rasa.shared.utils.io import read_config_file

from bot.channels import registry
from bot.channels.registry import OPTIONAL_CHANNELS, write_credentials
from bot.channels.rest import CheckedRestInput
from bot.channels.socketio import CheckedSocketIOInput
from bot.channels.telegram import TelegramChannel, credentials_from_env

SECRET = "s3cret-token_of-the-webhook-0123456789"
TELEGRAM = {
    "TELEGRAM_BOT_TOKEN": "123456789:AAH-test-token",
    "TELEGRAM_BOT_USERNAME": "@AcmeSupportBot",
    "TELEGRAM_WEBHOOK_SECRET": SECRET,
    "TELEGRAM_WEBHOOK_URL": "https://support.example.com/webhooks/telegram/webhook",
}


def test_telegram_is_configured_by_its_token_username_and_secret() -> None:
    assert credentials_from_env(TELEGRAM) == {
        # Secrets as references: Rasa reads them from its environment, no file holds them.
        "access_token": "${TELEGRAM_BOT_TOKEN}",
        "verify": "AcmeSupportBot",
        "webhook_url": "https://support.example.com/webhooks/telegram/webhook",
        "secret_token": "${TELEGRAM_WEBHOOK_SECRET}",
        "api_url": "https://api.telegram.org",
    }
    with_api = credentials_from_env({**TELEGRAM, "TELEGRAM_API_URL": "http://127.0.0.1:8081"})
    assert with_api is not None and with_api["api_url"] == "http://127.0.0.1:8081"


@pytest.mark.parametrize(
    "missing", ["TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME", "TELEGRAM_WEBHOOK_SECRET"]
)
@pytest.mark.parametrize("unset", [True, False])
def test_telegram_is_off_without_its_token_username_or_secret(missing: str, unset: bool) -> None:
    env = {name: value for name, value in TELEGRAM.items() if name != missing}
    if not unset:
        env[missing] = "  "
    assert credentials_from_env(env) is None
    assert credentials_from_env({}) is None


@pytest.mark.parametrize(
    "secret", ["short-secret", "has spaces in it, 0123456789", "ünïcode-0123456789abcdef", "x" * 257]
)
def test_a_secret_telegram_would_not_take_is_a_configuration_error(secret: str) -> None:
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET must be") as raised:
        credentials_from_env({**TELEGRAM, "TELEGRAM_WEBHOOK_SECRET": secret})
    assert secret not in str(raised.value)


def test_the_registry_lists_every_optional_channel_by_its_class() -> None:
    assert OPTIONAL_CHANNELS == ("bot.channels.slack.SlackChannel", "bot.channels.telegram.TelegramChannel")
    assert "bot.channels.telegram.TelegramChannel" in registry.available_optional_channels()


def _without_channels(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The test's environment without any messaging channel's configuration (the channels read it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
    monkeypatch.setenv("RASA_REST_TOKEN", "rest-token-of-the-test-0123456789")
    monkeypatch.setenv("RASA_CORS_ORIGINS", "http://127.0.0.1:8000")
    monkeypatch.setenv("WIDGET_SESSION_SECRET", "widget-session-secret-of-the-test-0123456789")
    return env


def test_without_configuration_only_the_always_on_channels_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _without_channels(monkeypatch)
    path = tmp_path / "credentials" / "rasa.yml"
    assert write_credentials(env, path) == ["rest", "socketio"]
    assert list(read_config_file(str(path))) == [
        "bot.channels.rest.CheckedRestInput",
        "bot.channels.socketio.CheckedSocketIOInput",
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_configured_channel_is_written_and_rasa_reads_its_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**_without_channels(monkeypatch), **TELEGRAM}
    path = tmp_path / "rasa.yml"
    assert write_credentials(env, path) == ["rest", "socketio", "telegram"]
    text = path.read_text()
    assert TELEGRAM["TELEGRAM_BOT_TOKEN"] not in text and SECRET not in text

    # Rasa loads the channels from the file as `rasa run --credentials` does, with the secrets from its
    # environment; loading them calls nothing on the network (Rasa's own connector would call setWebhook).
    for name, value in TELEGRAM.items():
        monkeypatch.setenv(name, value)
    channels = create_http_input_channels(None, str(path))
    assert [type(channel) for channel in channels] == [
        CheckedRestInput,
        CheckedSocketIOInput,
        TelegramChannel,
    ]
    telegram = channels[-1]
    assert telegram.access_token == TELEGRAM["TELEGRAM_BOT_TOKEN"]
    assert telegram.from_telegram(SECRET)
    assert not telegram.from_telegram(None) and not telegram.from_telegram(SECRET + "x")
    assert (
        telegram.get_output_channel()
        .server.api_url(telegram.access_token, "getMe")
        .startswith("https://api.telegram.org/bot")
    )


def test_a_file_written_again_replaces_the_old_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _without_channels(monkeypatch)
    path = tmp_path / "rasa.yml"
    write_credentials({**env, **TELEGRAM}, path)
    assert write_credentials(env, path) == ["rest", "socketio"]
    assert "telegram" not in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["rasa.yml"]
