"""Async engines for the store: ``postgresql+asyncpg`` in production, ``sqlite+aiosqlite`` embedded.

One factory so every caller (workers, API, CLI, tests) gets the same connection behaviour: JSON
through orjson (datetimes included), and on SQLite foreign keys on (``ON DELETE CASCADE`` needs
it), WAL so readers do not block the writer, and a busy timeout instead of instant "locked" errors.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from enricher.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine_for(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite://...`` or ``postgresql+asyncpg://...``).

    Extra keyword arguments go to ``create_async_engine`` (pool sizes, ``echo`` ...).
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"invalid database URL: {exc}") from exc
    options: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if parsed.drivername == "sqlite+aiosqlite":
        if parsed.database in (None, "", ":memory:"):
            # one shared connection, or every session would see its own empty database
            options["poolclass"] = StaticPool
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        options.update(kwargs)
        engine = create_async_engine(parsed, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql+asyncpg":
        options["pool_pre_ping"] = True
        options.update(kwargs)
        return create_async_engine(parsed, **options)
    raise ConfigError(
        f"unsupported database driver {parsed.drivername!r}: use sqlite+aiosqlite or postgresql+asyncpg"
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (no lazy reloads in async code)."""
    return async_sessionmaker(engine, expire_on_commit=False)
