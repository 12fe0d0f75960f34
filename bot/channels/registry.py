"""Which channels the Rasa server listens on: the always-on ones of credentials.yml, and each optional
messaging channel whose configuration is in the environment.

`write_credentials(env, path)` writes the credentials file Rasa is started with and returns the names of the
channels that are on. An optional channel's module decides from the environment whether it is configured
(`credentials_from_env`: its credentials entry, or None when it is off), so a channel without configuration
is simply not there. The launcher runs this module under the bot's Python (`python -m bot.channels.registry
PATH`, launcher/stack.py): it prints the names of the channels that are on, as one JSON list.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from rasa.core.channels.channel import InputChannel

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# The REST channel and the widget's socket.io channel: always on.
ALWAYS_ON = REPO_ROOT / "credentials.yml"
# The optional channels, by the class registered in the credentials file; each one's module has
# `credentials_from_env`. A module not in this tree yet is skipped.
OPTIONAL_CHANNELS = (
    "bot.channels.slack.SlackChannel",
    "bot.channels.telegram.TelegramChannel",
)


def channel_class(class_path: str) -> type[InputChannel]:
    """The input channel class a credentials file names (`package.module.Class`)."""
    module = importlib.import_module(_module_of(class_path))
    channel: type[InputChannel] = getattr(module, class_path.rpartition(".")[2])
    return channel


def available_optional_channels() -> list[str]:
    """The optional channels whose module is in this tree."""
    return [path for path in OPTIONAL_CHANNELS if importlib.util.find_spec(_module_of(path)) is not None]


def _module_of(class_path: str) -> str:
    return class_path.rpartition(".")[0]


def credentials(env: Mapping[str, str]) -> dict[str, Any]:
    """The credentials file's entries: credentials.yml's, then each configured optional channel's."""
    entries: dict[str, Any] = dict(yaml.safe_load(ALWAYS_ON.read_text()) or {})
    for class_path in available_optional_channels():
        module = importlib.import_module(_module_of(class_path))
        entry = module.credentials_from_env(env)
        if entry is not None:
            entries[class_path] = entry
    return entries


def write_credentials(env: Mapping[str, str], path: Path) -> list[str]:
    """Write the credentials file Rasa is started with to `path`; return the names of the channels that are
    on (Rasa's `name()` of each, as stored with tickets), in the file's order.

    Written whole or not at all (a temporary file renamed), readable by its owner only."""
    entries = credentials(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write("# Written by bot/channels/registry.py from credentials.yml and the environment.\n")
            yaml.safe_dump(entries, file, sort_keys=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return [channel_class(class_path).name() for class_path in entries]


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m bot.channels.registry CREDENTIALS_PATH")
    print(json.dumps(write_credentials(os.environ, Path(sys.argv[1]))))


if __name__ == "__main__":
    main()
