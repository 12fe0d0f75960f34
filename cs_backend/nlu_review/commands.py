"""`python -m cs_backend nlu-review-export --out FILE [--since WHEN]`: the collected misunderstood messages
as a Rasa NLU YAML file to review (export.py). Exit 0 with a one-line summary; 2 on bad arguments."""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from cs_backend.config import Settings

COMMAND = "nlu-review-export"


def since_argument(value: str) -> datetime:
    """An ISO date ("2026-11-01") or date and time ("2026-11-01T08:00", UTC unless it says otherwise)."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO date or date-time (e.g. 2026-11-01 or 2026-11-01T08:00:00Z)"
        ) from error
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def add_review_export_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        COMMAND, help="write the messages the assistant did not understand as Rasa NLU YAML to review"
    )
    export.add_argument("--out", required=True, type=Path, help="the YAML file to write")
    export.add_argument(
        "--since", type=since_argument, help="only messages said at or after this ISO date or date-time (UTC)"
    )


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` only once the whole file is written: an interrupted export leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def review_export_command(settings: Settings, arguments: argparse.Namespace) -> int:
    import asyncio

    from cs_backend.db import Database, utcnow
    from cs_backend.nlu_review.export import examples_of, render_review_yaml
    from cs_backend.nlu_review.service import collected_messages

    async def run() -> tuple[str, int, int]:
        database = Database.connect(settings.database_url)
        try:
            messages = await collected_messages(database, arguments.since)
        finally:
            await database.dispose()
        return (
            render_review_yaml(messages, utcnow(), arguments.since),
            len(messages),
            len(examples_of(messages)),
        )

    text, messages, examples = asyncio.run(run())
    write_atomically(arguments.out, text)
    print(f"{examples} distinct messages ({messages} collected) written to {arguments.out} for review")
    return 0
