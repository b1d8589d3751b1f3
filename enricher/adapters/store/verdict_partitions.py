"""Daily partitions of ``verdicts`` on PostgreSQL (migration 0002): create ahead, drop for retention.

Partitions are ``verdict_partitions.verdicts_pYYYYMMDD`` holding one UTC day ``[D, D+1)``; the
``verdicts_default`` partition takes any row whose day has none yet (a backfill of old history, a
clock far ahead). A day cannot be given its own partition while the default holds rows of it, so
those rows are moved in the same transaction: create a plain table, move the day's rows into it,
attach it. An advisory lock serializes concurrent callers (several sinks starting at once).

Both functions run on a synchronous connection inside the caller's transaction
(``AsyncConnection.run_sync``), so a failure leaves the partition layout as it was.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import Connection

SCHEMA: Final = "verdict_partitions"
PREFIX: Final = "verdicts_p"
DEFAULT: Final = f"{SCHEMA}.verdicts_default"
# pg_advisory_xact_lock key: any constant no other part of the service uses ("verd" in ASCII)
LOCK_KEY: Final = 0x76657264
LOCK_TIMEOUT: Final = "10s"  # DDL on the parent waits for readers; never queue behind them forever

_PARTITIONS = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE i.inhparent = 'verdicts'::regclass AND n.nspname = :schema AND c.relname LIKE :pattern"
)
_DEFAULT_DAYS = text(f"SELECT DISTINCT date_trunc('day', time, 'UTC') FROM {DEFAULT}")


def partition_name(day: date) -> str:
    """``verdicts_pYYYYMMDD``, unqualified."""
    return f"{PREFIX}{day:%Y%m%d}"


def _bound(day: date) -> str:
    return f"'{day.isoformat()} 00:00:00+00'"


def _existing(connection: Connection) -> dict[date, str]:
    names = connection.execute(_PARTITIONS, {"schema": SCHEMA, "pattern": f"{PREFIX}%"}).scalars()
    days: dict[date, str] = {}
    for name in names:
        try:
            days[datetime.strptime(name[len(PREFIX) :], "%Y%m%d").date()] = name
        except ValueError:
            continue  # not one of ours
    return days


def _lock(connection: Connection) -> None:
    connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def _create(connection: Connection, day: date, *, has_rows: bool) -> None:
    name = f"{SCHEMA}.{partition_name(day)}"
    low, high = _bound(day), _bound(day + timedelta(days=1))
    if not has_rows:
        connection.execute(
            text(f"CREATE TABLE {name} PARTITION OF verdicts FOR VALUES FROM ({low}) TO ({high})")
        )
        return
    connection.execute(text(f"CREATE TABLE {name} (LIKE verdicts INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    # the CHECK lets ATTACH skip its validation scan of the new table
    connection.execute(
        text(f"ALTER TABLE {name} ADD CONSTRAINT day_bounds CHECK (time >= {low} AND time < {high})")
    )
    connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE time >= {low} AND time < {high} RETURNING *)"
            f" INSERT INTO {name} SELECT * FROM moved"
        )
    )
    connection.execute(
        text(f"ALTER TABLE verdicts ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})")
    )
    connection.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT day_bounds"))


def ensure_day_partitions(connection: Connection, today: datetime, days_ahead: int) -> int:
    """Create the partitions of ``today`` .. ``today + days_ahead`` and of every day present in the
    default partition; returns how many were created."""
    if days_ahead < 0:
        raise ValueError("days_ahead must not be negative")
    _lock(connection)
    existing = _existing(connection)
    in_default = {when.astimezone(UTC).date() for when in connection.execute(_DEFAULT_DAYS).scalars()}
    start = today.astimezone(UTC).date()
    wanted = {start + timedelta(days=n) for n in range(days_ahead + 1)} | in_default
    created = 0
    for day in sorted(wanted - existing.keys()):
        _create(connection, day, has_rows=day in in_default)
        created += 1
    return created


def drop_day_partitions_before(connection: Connection, cutoff: datetime) -> int:
    """Drop every daily partition that ends at or before ``cutoff`` and delete older rows from the
    default partition; returns how many partitions were dropped."""
    _lock(connection)
    dropped = 0
    for day, name in sorted(_existing(connection).items()):
        if datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) <= cutoff:
            connection.execute(text(f"DROP TABLE {SCHEMA}.{name}"))
            dropped += 1
    connection.execute(text(f"DELETE FROM {DEFAULT} WHERE time < :cutoff"), {"cutoff": cutoff})
    return dropped
