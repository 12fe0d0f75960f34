"""The token a server requires of its callers, read from its environment variable, or a refusal to start.

The servers of bot/ (rasa_server.py, action_server.py) take their token from the environment only: a command
line can be read by every local user (`ps`), a process's environment only by its owner. The launcher sets both
variables (launcher/stack.py: the caller's, or a random one per run).
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def required_token(variable: str, env: Mapping[str, str] | None = None) -> str:
    """The token in `variable`; exits (status 1, with the reason) when it is unset or blank, so that the
    server never runs unlocked."""
    token = (os.environ if env is None else env).get(variable, "").strip()
    if not token:
        raise SystemExit(
            f"{variable} is not set: this server does not run without a token (`make run` and "
            "`python -m launcher` set one; see docs/SECURITY.md)."
        )
    return token
