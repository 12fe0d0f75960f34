"""What every test folder shares: the repository root, and skipping or failing when a service is missing.

Standard library and pytest only: the backend's interpreter (tests/backend, tests/e2e) and the bot's
(tests/actions, tests/bot) both import it. Starting the service's processes is launcher/stack.py's job.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# CI runs with CI=true: there a test must never pass because a service it needs quietly was not there.
IN_CI = os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip the test with `reason` on a developer's machine; fail it under CI=true, where all must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)", pytrace=False)
    pytest.skip(reason)
