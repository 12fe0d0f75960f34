"""Run the Alembic migrations programmatically (used by `python -m cs_backend migrate` and the tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(ALEMBIC_INI))
    # Passed as an attribute, not as sqlalchemy.url: the ini parser would treat a '%' in the URL (an
    # escaped character of the password) as interpolation.
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database to `revision`; None means DATABASE_URL (or the default SQLite file).

    Synchronous (env.py runs its own event loop): from async code use `upgrade_async`.
    """
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str | None = None, revision: str = "head") -> None:
    # A worker thread has no running event loop, so env.py's asyncio.run() works there.
    await asyncio.to_thread(upgrade, database_url, revision)


async def downgrade_async(database_url: str | None = None, revision: str = "base") -> None:
    await asyncio.to_thread(downgrade, database_url, revision)


def head_revision() -> str:
    """The newest revision of the migration scripts: the schema this code expects."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("cs_backend/migrations has no revisions")
    return head
