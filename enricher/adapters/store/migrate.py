"""Schema migrations, run programmatically (the installed service has no alembic.ini to point at).

``upgrade_to_head`` is what ``enricher`` commands call before touching the store; it is safe to
run on every start (already at head = nothing to do) and works on both supported databases.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from enricher.adapters.store.engine import create_engine_for

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An alembic ``Config`` pointing at the packaged migrations, with no ini file needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` inside one transaction."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def upgrade_to_head_async(database_url: str) -> None:
    """Migrate ``database_url`` to the newest revision (for callers already in an event loop)."""
    engine = create_engine_for(database_url)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()


def upgrade_to_head(database_url: str) -> None:
    """Migrate ``database_url`` to the newest revision; callable with or without a running loop.

    The migration runs on a private event loop in a helper thread, so it neither needs nor
    disturbs the caller's loop (an async CLI command, a test session).
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate") as pool:
        pool.submit(asyncio.run, upgrade_to_head_async(database_url)).result()
