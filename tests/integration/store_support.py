"""Helpers for the verdict-store tests on the shared PostgreSQL server.

``quiesce_autovacuum``: PostgreSQL 15 refuses ``DROP DATABASE .. WITH (FORCE)`` to a role without
``pg_signal_backend`` while an autovacuum worker is in that database ("must be a member of the
role whose process is being terminated"), and tests that write thousands of rows invite one. So
before the per-test database is dropped, autovacuum is switched off for its tables and any worker
already running is waited out.
"""

from __future__ import annotations

import asyncio
import time

from tests.integration.services import pg_connect

_TABLES = (
    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg_toast%'"
)
# autovacuum workers show no user to an unprivileged role
_WORKERS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND usesysid IS NULL"
)


async def quiesce_autovacuum(url: str, timeout: float = 60.0) -> None:
    """No autovacuum worker will be in the database of ``url`` when this returns."""
    connection = await pg_connect(url)
    try:
        for table in await connection.fetch(_TABLES):
            await connection.execute(f"ALTER TABLE {table[0]} SET (autovacuum_enabled = false)")
        deadline = time.monotonic() + timeout
        while await connection.fetchval(_WORKERS) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    finally:
        await connection.close()
