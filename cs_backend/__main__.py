"""Command line: `python -m cs_backend serve|migrate|nudge-stalled|create-admin|create-agent|health-rescore|
docs|churn-train|churn-export|segments-recompute|nlu-review-export`.

`nudge-stalled` runs the onboarding nudge job once (cs_backend/onboarding/jobs.py) and prints how many
nudges were sent; it exits 1 when some could not be sent (they are retried on the next run), 2 when the
onboarding checklist cannot be used.

`create-admin --email E [--name N]` creates an admin account (the first one, or another): the password is
asked twice on a terminal, or read from the first line of stdin when that is not a terminal (for scripts). It
exits 1 when the email already has an account, 2 when the password is too short or the two differ.

`create-agent --email E [--name N] [--languages en,zh] [--skills billing,technical] [--capacity 3]
[--team-id T] [--admin]` creates an agent account (an admin with --admin) with its routing profile, offline:
the person signs in to the agent console (/console) and goes online there. Password and exit codes as for
create-admin; exit 2 also when a routing option is invalid or the team does not exist.

`health-rescore` rescores every customer's health (cs_backend/health_scores/batch.py) with a progress bar on
stderr and prints how many landed in each band; it exits 2 when the weights file cannot be used.

`churn-train --csv FILE --target COLUMN [--positive VALUE] [--id-column C] [--out DIR]` trains a churn model
from a CSV of historical customers (docs/CHURN.md); exit 2, writing nothing, when the CSV cannot be used.
`churn-export --out FILE` writes this product's customers' features with `churned` as such a CSV.
`segments-recompute [--segments K]` clusters the customers into named segments and stores the run
(GET /api/segments serves the latest).
`nlu-review-export --out FILE [--since DATE]` writes the messages the assistant did not understand (collected
from Rasa's events by the outcomes consumer, cs_backend/nlu_review/) as Rasa NLU YAML to review and label.

`docs` rewrites the tables of docs/ARCHITECTURE.md that are generated from the code (cs_backend/reference.py).

Configuration comes from the environment (see cs_backend/config.py); --host/--port override
CS_BACKEND_HOST/CS_BACKEND_PORT.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import sys
from typing import TYPE_CHECKING

from cs_backend.churn.commands import add_export_parser, add_train_parser, export_command, train_command
from cs_backend.config import Settings, SettingsError
from cs_backend.db import DatabaseUrlError, normalize_database_url
from cs_backend.nlu_review.commands import add_review_export_parser, review_export_command

if TYPE_CHECKING:
    from cs_backend.accounts.models import Role
    from cs_backend.routing.schemas import AgentProfileSet

log = logging.getLogger("cs_backend")

# SIGTERM/Ctrl-C: give in-flight requests this long before they are cancelled (event streams end at once).
SHUTDOWN_TIMEOUT_SECONDS = 10.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cs_backend", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="interface to bind (default: CS_BACKEND_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: CS_BACKEND_PORT or 8000)")
    migrate = commands.add_parser("migrate", help="upgrade the database schema (alembic upgrade)")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    commands.add_parser("nudge-stalled", help="nudge stalled onboarding customers through Rasa once")
    create_admin = commands.add_parser(
        "create-admin", help="create an admin account (password from the terminal)"
    )
    create_admin.add_argument("--email", required=True, help="the admin's email (stored lower-cased)")
    create_admin.add_argument("--name", help="display name (default: the part of the email before @)")
    create_agent = commands.add_parser(
        "create-agent", help="create an agent account with its routing profile (password from the terminal)"
    )
    create_agent.add_argument("--email", required=True, help="the agent's email (stored lower-cased)")
    create_agent.add_argument("--name", help="display name (default: the part of the email before @)")
    create_agent.add_argument("--languages", default="en", help="ISO 639 codes, comma-separated (en)")
    create_agent.add_argument("--skills", default="", help="skills, comma-separated (none: any handoff)")
    create_agent.add_argument("--capacity", type=int, default=3, help="handoffs held at once (3)")
    create_agent.add_argument("--team-id", type=int, help="their team, whose business hours they keep")
    create_agent.add_argument("--admin", action="store_true", help="an admin who takes handoffs too")
    commands.add_parser("health-rescore", help="rescore every customer's health (progress bar on stderr)")
    commands.add_parser("docs", help="rewrite the generated tables of docs/ARCHITECTURE.md")
    add_train_parser(commands)
    add_export_parser(commands)
    segments = commands.add_parser(
        "segments-recompute", help="cluster the customers into named segments; store the run"
    )
    segments.add_argument("--segments", type=int, default=5, help="how many segments K-means looks for (5)")
    add_review_export_parser(commands)
    return parser


def _redacted(database_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url).render_as_string(hide_password=True)


def serve(settings: Settings) -> None:
    from aiohttp import web

    from cs_backend.logs import AccessLogger
    from cs_backend.main import create_app

    log.info(
        "cs_backend on http://%s:%d, database %s, live events %s",
        settings.host,
        settings.port,
        _redacted(settings.database_url),
        "redis" if settings.redis_url else "in-process",
    )
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log_class=AccessLogger,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
        print=None,
    )


def migrate(settings: Settings, revision: str) -> None:
    from cs_backend import migrate as migrations

    log.info("migrating %s to %s", _redacted(settings.database_url), revision)
    migrations.upgrade(settings.database_url, revision)
    log.info("database is at %s", revision)


def nudge_stalled(settings: Settings) -> int:
    from cs_backend.onboarding.checklist import ChecklistError
    from cs_backend.onboarding.jobs import nudge_stalled_once

    try:
        result = asyncio.run(nudge_stalled_once(settings))
    except ChecklistError as error:
        print(f"cs_backend: onboarding checklist error: {error}", file=sys.stderr)
        return 2
    if result.skipped:
        print("0 onboarding nudges sent: another process is sending them right now")
        return 0
    message = f"{result.sent} onboarding nudge{'' if result.sent == 1 else 's'} sent"
    if result.failed:
        message += f", {result.failed} failed (Rasa unreachable or refused; retried on the next run)"
    print(message)
    return 1 if result.failed else 0


def recompute_segments(settings: Settings, segments: int) -> int:
    from cs_backend.db import Database
    from cs_backend.segments import service

    if not 2 <= segments <= 20:
        print("cs_backend: --segments must be between 2 and 20", file=sys.stderr)
        return 2

    async def run() -> int:
        db = Database.connect(settings.database_url)
        try:
            stored = await service.recompute(db, segments=segments)
        finally:
            await db.dispose()
        print(f"{stored.customers} customers in {len(stored.segments)} segments (run {stored.id}):")
        for segment in stored.segments:
            print(f"  {segment['name']}: {segment['size']} - {segment['description']}")
        return 0

    return asyncio.run(run())


def health_rescore(settings: Settings) -> int:
    from cs_backend.health_scores.batch import rescore_everyone
    from cs_backend.health_scores.weights import WeightsError

    try:
        summary = asyncio.run(rescore_everyone(settings))
    except WeightsError as error:
        print(f"cs_backend: health score weights error: {error}", file=sys.stderr)
        return 2
    print(summary)
    return 0


class PasswordEntryError(ValueError):
    """The password could not be read, or the two entries differ."""


def read_new_password() -> str:
    """Asked twice (not echoed) on a terminal; the first line of stdin otherwise."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise PasswordEntryError("no password on stdin")
        return password
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise PasswordEntryError("the two passwords differ")
    return password


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def create_agent(settings: Settings, arguments: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cs_backend.routing.schemas import AgentProfileSet

    try:
        profile = AgentProfileSet(
            languages=_comma_list(arguments.languages),
            skills=_comma_list(arguments.skills),
            capacity=arguments.capacity,
            team_id=arguments.team_id,
        )
    except ValidationError as error:
        problems = "; ".join(f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        print(f"cs_backend: {problems.replace('_', '-')}", file=sys.stderr)
        return 2
    role: Role = "admin" if arguments.admin else "agent"
    return create_admin(settings, arguments.email, arguments.name, role=role, profile=profile)


def create_admin(
    settings: Settings,
    email: str,
    name: str | None,
    role: Role = "admin",
    profile: AgentProfileSet | None = None,
) -> int:
    """Create an account of `role` (and, given `profile`, its routing profile, offline)."""
    from pydantic import TypeAdapter, ValidationError

    from cs_backend.accounts import service as accounts
    from cs_backend.accounts.passwords import PasswordTooLong, PasswordTooShort, check_password_length
    from cs_backend.accounts.schemas import DisplayName
    from cs_backend.api.types import EmailAddress

    try:
        email = TypeAdapter(EmailAddress).validate_python(email)
    except ValidationError:
        print(f"cs_backend: {email!r} is not a valid email address", file=sys.stderr)
        return 2
    try:
        display_name = TypeAdapter(DisplayName).validate_python(
            name if name and name.strip() else email.partition("@")[0]
        )
    except ValidationError:
        print("cs_backend: --name must be 1-200 characters of text", file=sys.stderr)
        return 2
    try:
        password = read_new_password()
        check_password_length(password)
    except (PasswordEntryError, PasswordTooShort, PasswordTooLong) as error:
        print(f"cs_backend: {error}", file=sys.stderr)
        return 2

    async def create() -> int:
        from cs_backend.db import Database
        from cs_backend.routing.profiles import create_offline_profile, team_exists

        db = Database.connect(settings.database_url)
        try:
            if (
                profile is not None
                and profile.team_id is not None
                and not await team_exists(db, profile.team_id)
            ):
                print(f"cs_backend: --team-id: team {profile.team_id} not found", file=sys.stderr)
                return 2
            account = await accounts.create_account(db, email, display_name, role, password)
            if profile is not None:
                await create_offline_profile(db, account.id, profile)
        except accounts.EmailTaken as error:
            print(f"cs_backend: {error.message}", file=sys.stderr)
            return 1
        finally:
            await db.dispose()
        if profile is None:
            print(f"admin {account.email} created (account {account.id}); sign in with POST /api/auth/login")
        else:
            print(
                f"{role} {account.email} created (account {account.id}) with a routing profile "
                f"(languages {', '.join(profile.languages)}, capacity {profile.capacity}), offline; "
                "sign in to the agent console at /console and go online there"
            )
        return 0

    return asyncio.run(create())


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "docs":  # from the code alone: the environment's settings play no part
        from cs_backend.reference import ARCHITECTURE_DOC, write_architecture_doc

        print(f"{ARCHITECTURE_DOC}: {'updated' if write_architecture_doc() else 'up to date'}")
        return 0
    if arguments.command == "churn-train":  # a CSV in, files out: no database, no settings
        return train_command(arguments)
    try:
        settings = Settings.from_env()
        settings = dataclasses.replace(settings, database_url=normalize_database_url(settings.database_url))
    except (SettingsError, DatabaseUrlError) as error:
        print(f"cs_backend: configuration error: {error}", file=sys.stderr)
        return 2
    from cs_backend.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    if arguments.command == "serve":
        overrides = {"host": arguments.host, "port": arguments.port}
        serve(dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None}))
    elif arguments.command == "migrate":
        migrate(settings, arguments.revision)
    elif arguments.command == "nudge-stalled":
        return nudge_stalled(settings)
    elif arguments.command == "create-admin":
        return create_admin(settings, arguments.email, arguments.name)
    elif arguments.command == "create-agent":
        return create_agent(settings, arguments)
    elif arguments.command == "churn-export":
        return export_command(settings, arguments)
    elif arguments.command == "segments-recompute":
        return recompute_segments(settings, arguments.segments)
    elif arguments.command == "nlu-review-export":
        return review_export_command(settings, arguments)

    elif arguments.command == "health-rescore":
        return health_rescore(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
