"""bot/rasa_server.py: `rasa run` always gets its HTTP API locked by the token from RASA_AUTH_TOKEN, which
never comes from (nor goes to) the process's command line. (The locked API itself is tried over the network
in tests/e2e/test_security.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.rasa_server import rasa_run_argv
from tests.support import REPO_ROOT


def test_rasa_runs_with_the_api_locked_by_the_token() -> None:
    argv = rasa_run_argv(["--model", "models/assistant.tar.gz", "--cors", "http://127.0.0.1:8000"], "s3cret")
    assert argv[:2] == ["rasa", "run"]
    assert argv[-2:] == ["--enable-api", "--auth-token=s3cret"]
    assert argv[2:-2] == ["--model", "models/assistant.tar.gz", "--cors", "http://127.0.0.1:8000"]


@pytest.mark.parametrize("token", ["-starts-with-a-dash", "--looks-like-an-option", "plain"])
def test_rasa_reads_any_token_as_the_token(token: str) -> None:
    """Random tokens can start with "-" (1 launch in 64 failed with "expected one argument")."""
    from rasa.__main__ import create_argument_parser  # type: ignore[import-untyped]

    arguments = create_argument_parser().parse_args(rasa_run_argv(["--model", "m.tar.gz"], token)[1:])
    assert arguments.auth_token == token
    assert arguments.enable_api


@pytest.mark.parametrize("option", [["--auth-token", "x"], ["--auth-token=x"]])
def test_a_token_on_the_command_line_is_refused(option: list[str]) -> None:
    with pytest.raises(SystemExit, match="RASA_AUTH_TOKEN"):
        rasa_run_argv(["--model", "m.tar.gz", *option], "s3cret")


@pytest.mark.parametrize("token", [None, "", "   "])
def test_without_a_token_rasa_does_not_start(token: str | None) -> None:
    env = {name: value for name, value in os.environ.items() if name != "RASA_AUTH_TOKEN"}
    if token is not None:
        env["RASA_AUTH_TOKEN"] = token
    started = subprocess.run(
        [sys.executable, "-m", "bot.rasa_server", "--model", "models/assistant.tar.gz"],
        cwd=REPO_ROOT,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 1
    assert "RASA_AUTH_TOKEN is not set" in started.stderr
