"""`python -m bot.rasa_server [rasa run options]`: `rasa run` with its HTTP API on and locked by a token.

Rasa checks the token of its HTTP API (`--auth-token`) as the `token` query parameter of every API route
(`/status`, `/conversations/...`, `/model...`, `/domain`); the channels' webhooks (socket.io, REST) do not
need it. This module reads the token from RASA_AUTH_TOKEN (bot/tokens.py) and hands it to Rasa's own command
line parser in this process, so it never appears in the process's command line; it refuses to start without
one. Every other option is `rasa run`'s (the launcher passes the model, `--cors`, the interface and port, the
credentials and endpoints files).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bot.tokens import required_token
from log_redaction import install_log_redaction

TOKEN_VARIABLE = "RASA_AUTH_TOKEN"


def rasa_run_argv(options: Sequence[str], token: str) -> list[str]:
    """The argv for Rasa's command line parser: `rasa run` with the HTTP API enabled and locked by `token`."""
    if any(option.split("=")[0] == "--auth-token" for option in options):
        raise SystemExit(f"the token comes from {TOKEN_VARIABLE}, not from the command line")
    # One `--auth-token=…` argument: a random token may start with "-", which argparse would otherwise read as
    # an option and refuse ("expected one argument").
    return ["rasa", "run", *options, "--enable-api", f"--auth-token={token}"]


def main() -> None:
    token = required_token(TOKEN_VARIABLE)
    sys.argv = rasa_run_argv(sys.argv[1:], token)
    # Before Rasa configures its logging: every record (Rasa's, Sanic's, the channels') is redacted.
    install_log_redaction()
    # Imported late: loading Rasa takes seconds. Rasa ships no type information (no py.typed).
    from rasa.__main__ import main as rasa_main  # type: ignore[import-untyped]

    rasa_main()


if __name__ == "__main__":
    main()
