"""The verdict store: bulk idempotent writes, the responder's queries, entitlement usage, retention.

Writes come from the sink (``enricher sink``) and from ``enricher replay --store``; reads from the
HTTP API. One record is the verdict JSON exactly as ``serialize_verdict`` produced it, kept whole
in ``record`` beside the columns the queries filter on.

- Idempotent: ``verdict_id`` is deterministic (source + event id), so a redelivered verdict is an
  ``ON CONFLICT DO NOTHING`` no-op. On PostgreSQL the key is ``(verdict_id, time)`` because the
  table is partitioned by day (migration 0002); a redelivery carries the same event time.
- Bulk: PostgreSQL gets one ``COPY`` into a temporary table and one ``INSERT .. SELECT .. ON
  CONFLICT`` per batch; SQLite gets multi-row ``INSERT .. ON CONFLICT`` statements.
- Paging is keyset on ``(time, verdict_id)`` descending: the cursor names the last row shown, so
  rows inserted meanwhile (newer ones, the usual case) neither repeat nor shift a page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    column,
    delete,
    func,
    literal,
    select,
    table,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from enricher.adapters.store.models import EntitlementUsageRow, UTCDateTime, VerdictRow
from enricher.adapters.store.verdict_partitions import drop_day_partitions_before, ensure_day_partitions
from enricher.adapters.store.verdict_rows import (
    COLUMNS,
    SOURCES,
    VERDICT_OF_REASON,
    BadVerdictRecord,
    Page,
    Row,
    record_time,
    verdict_row,
)
from enricher.core.verdict import REASONS_BY_VERDICT

__all__ = ["COLUMNS", "BadVerdictRecord", "Page", "Row", "VerdictRepository", "is_unavailable", "verdict_row"]

MAX_PAGE: Final = 1000
# The SQLite insert binds ``record`` as text: the JSON the producer wrote is stored as it came.
_SQLITE_VERDICTS = table(
    "verdicts",
    *(column(name, UTCDateTime() if name == "time" else Text()) for name in COLUMNS),
)
_PAGE_COLUMNS = (VerdictRow.record, VerdictRow.time, VerdictRow.verdict_id)
_PG_INSERT = (
    f"INSERT INTO verdicts ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM verdicts_incoming"
    " ON CONFLICT (verdict_id, time) DO NOTHING"
)
_PG_STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS verdicts_incoming"
    " (LIKE verdicts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)


# the asyncpg ones are raised as they are by the raw connection of the COPY path
_UNAVAILABLE: Final = (
    OperationalError,
    InterfaceError,
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.InterfaceError,  # connection closed or lost
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutting down, starting up, query canceled
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, disk full
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.DeadlockDetectedError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database cannot be reached right now": retry later.

    Connection refused or lost, server shutting down or starting up, too many connections, a lock
    or statement timeout. Anything else (a missing table, a bug) is not retried.
    """
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:  # wrapped errors: SQLAlchemy -> DBAPI adapter -> asyncpg
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        current = current.orig if isinstance(current, DBAPIError) else current.__cause__
        seen += 1
    return False


class VerdictRepository:
    """Reads and writes of stored verdicts and entitlement usage over one async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    # ------------------------------------------------------------------------------------ writes

    async def insert_many(self, records: Sequence[bytes | Mapping[str, Any]]) -> int:
        """Store serialized verdicts (bytes) or verdict dicts; redeliveries are no-ops.

        Returns how many rows were new. A record that is not a verdict raises
        :class:`BadVerdictRecord` and nothing of the batch is written.
        """
        return await self.insert_rows([verdict_row(record) for record in records])

    async def insert_rows(self, rows: Sequence[Row]) -> int:
        """Store rows made by :func:`verdict_row`, in bulk; returns how many were new."""
        if not rows:
            return 0
        if self._postgres:
            return await self._copy_rows(rows)
        statement = (
            sqlite.insert(_SQLITE_VERDICTS)
            .on_conflict_do_nothing(index_elements=["verdict_id"])
            .returning(_SQLITE_VERDICTS.c.verdict_id)
        )
        async with self._engine.begin() as conn:
            # a list of parameter sets + RETURNING: SQLAlchemy sends multi-row VALUES pages
            result = await conn.execute(statement, [dict(zip(COLUMNS, row, strict=True)) for row in rows])
            return len(result.all())

    async def _copy_rows(self, rows: Sequence[Row]) -> int:
        async with self._engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            async with raw.transaction():
                await raw.execute(_PG_STAGE)
                await raw.copy_records_to_table("verdicts_incoming", records=rows, columns=COLUMNS)
                status: str = await raw.execute(_PG_INSERT)
        return int(status.rpartition(" ")[2])

    async def record_usage(self, usage: Mapping[tuple[str, str], datetime]) -> None:
        """Upsert entitlement last-use times, keeping the later of the stored and the given time."""
        if not usage:
            return
        insert = postgresql.insert if self._postgres else sqlite.insert
        statement = insert(EntitlementUsageRow)
        statement = statement.on_conflict_do_update(
            index_elements=["identity_id", "entitlement_id"],
            set_={"last_used": statement.excluded.last_used},
            where=EntitlementUsageRow.last_used < statement.excluded.last_used,
        )
        # key order: concurrent flushes from several workers lock rows in the same order (no deadlock)
        params = [
            {"identity_id": identity, "entitlement_id": entitlement, "last_used": when}
            for (identity, entitlement), when in sorted(usage.items())
        ]
        async with self._engine.begin() as conn:
            await conn.execute(statement, params)

    # ------------------------------------------------------------------------------------- reads

    async def get(self, verdict_id: str) -> dict[str, Any] | None:
        """The stored record of one verdict, or None."""
        query = (
            select(VerdictRow.record)
            .where(VerdictRow.verdict_id == verdict_id)
            .order_by(VerdictRow.time.desc())
            .limit(1)
        )
        async with self._engine.connect() as conn:
            found: dict[str, Any] | None = await conn.scalar(query)
        return found

    async def get_by_event(self, event_id: str) -> list[dict[str, Any]]:
        """Every stored verdict of an event id (one per source that used that id), newest first."""
        query = (
            select(VerdictRow.record)
            .where(VerdictRow.event_id == event_id)
            .order_by(VerdictRow.time.desc(), VerdictRow.verdict_id.desc())
        )
        async with self._engine.connect() as conn:
            return list((await conn.scalars(query)).all())

    async def search(
        self,
        *,
        verdict: str | None = None,
        reason: str | None = None,
        identity: str | None = None,
        source: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of verdicts, newest first; ``since`` inclusive, ``until`` exclusive.

        Returns the records and the cursor of the next page (None on the last page).
        """
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        if (since is not None and since.tzinfo is None) or (until is not None and until.tzinfo is None):
            raise ValueError("since and until need a timezone")
        after = Page.decode(cursor) if cursor is not None else None
        conditions = _time_conditions(since, until, after)
        if identity is not None:
            conditions.append(VerdictRow.identity == identity)
        if source is not None:
            conditions.append(VerdictRow.source == source)
        if verdict is not None:
            conditions.append(VerdictRow.verdict == verdict)
        if reason is not None:
            conditions.append(VerdictRow.reason == reason)
        branches = _index_branches(verdict, reason, identity, source)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_page_query(conditions, branches, limit + 1))).all()
        records = [row[0] for row in rows[:limit]]
        if len(rows) <= limit:
            return records, None
        last = rows[limit - 1]
        return records, Page(last[1], last[2]).encode()

    async def timeline(
        self,
        identity_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """An identity's verdicts, newest first, paged like :meth:`search`."""
        return await self.search(identity=identity_id, since=since, until=until, limit=limit, cursor=cursor)

    async def related(
        self, record: Mapping[str, Any], window: timedelta = timedelta(minutes=15), limit: int = 50
    ) -> list[dict[str, Any]]:
        """Other verdicts of the same actor within ``window`` either side of the record's time.

        Same identity; for an unresolved actor (identity null) the same raw principal, which for
        AWS is the role session ARN, i.e. the same session. Newest first, the record itself excluded.
        """
        when = record_time(record["time"])
        identity = record.get("identity")
        if identity is not None:
            actor: ColumnElement[bool] = VerdictRow.identity == identity
        else:
            actor = and_(VerdictRow.identity.is_(None), VerdictRow.principal == record.get("principal"))
        query = (
            select(VerdictRow.record)
            .where(
                actor,
                VerdictRow.time >= when - window,
                VerdictRow.time <= when + window,
                VerdictRow.verdict_id != record.get("verdict_id"),
            )
            .order_by(VerdictRow.time.desc(), VerdictRow.verdict_id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return list((await conn.scalars(query)).all())

    async def counts_for_identity(self, identity_id: str) -> dict[str, int]:
        """How many stored verdicts of each kind the identity has (kinds with none are absent)."""
        query = (
            select(VerdictRow.verdict, func.count())
            .where(VerdictRow.identity == identity_id)
            .group_by(VerdictRow.verdict)
        )
        async with self._engine.connect() as conn:
            return {verdict: count for verdict, count in (await conn.execute(query)).all()}

    async def last_used(self, identity_id: str) -> dict[str, datetime]:
        """Entitlement id -> when the identity last exercised it."""
        query = select(EntitlementUsageRow.entitlement_id, EntitlementUsageRow.last_used).where(
            EntitlementUsageRow.identity_id == identity_id
        )
        async with self._engine.connect() as conn:
            return {entitlement: when for entitlement, when in (await conn.execute(query)).all()}

    # --------------------------------------------------------------------------------- retention

    async def ensure_partitions(self, days_ahead: int = 3, *, now: datetime | None = None) -> int:
        """PostgreSQL: create the daily partitions from today to ``days_ahead`` days on, and give
        every day found in the default partition its own. Returns how many were created (0 on SQLite)."""
        if not self._postgres:
            return 0
        async with self._engine.begin() as conn:
            return await conn.run_sync(ensure_day_partitions, _today(now), days_ahead)

    async def drop_partitions_older_than(self, days: int, *, now: datetime | None = None) -> int:
        """Retention: forget verdicts older than ``days`` days.

        PostgreSQL drops every daily partition wholly older than the cutoff (and deletes old rows
        from the default partition); returns how many partitions were dropped. SQLite deletes the
        rows and returns 0.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        cutoff = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=days)
        if self._postgres:
            async with self._engine.begin() as conn:
                return await conn.run_sync(drop_day_partitions_before, cutoff)
        async with self._engine.begin() as conn:
            await conn.execute(delete(VerdictRow).where(VerdictRow.time < cutoff))
        return 0

    async def count(self) -> int:
        """How many verdicts are stored (for tests, benchmarks and the demo)."""
        async with self._engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(VerdictRow)) or 0)


def _today(now: datetime | None) -> datetime:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _time_conditions(
    since: datetime | None, until: datetime | None, after: Page | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(VerdictRow.time >= since)
    if until is not None:
        conditions.append(VerdictRow.time < until)
    if after is not None:
        # the plain bound lets the (…, time) indexes seek; the row comparison breaks ties by id
        conditions.append(VerdictRow.time <= after.time)
        conditions.append(
            tuple_(VerdictRow.time, VerdictRow.verdict_id)
            < tuple_(literal(after.time, UTCDateTime()), literal(after.verdict_id, Text()))
        )
    return conditions


def _index_branches(
    verdict: str | None, reason: str | None, identity: str | None, source: str | None
) -> list[ColumnElement[bool]]:
    """Split a query no index can order as a whole into ones an index can, merged afterwards.

    Every index ends in ``time`` after equality columns. A filter on the verdict alone, or on no
    indexed column, would sort every matching row; split into one branch per reason of the verdict
    (index ``verdict, reason, time``) or per source (``source, time``), each branch reads only its
    newest rows. The store accepts only known sources and verdict/reason pairs, so the branches
    cover every row.
    """
    if identity is not None:
        return []
    if verdict is not None and reason is None:
        return [VerdictRow.reason == r for r in REASONS_BY_VERDICT.get(verdict, ())]
    if reason is not None and verdict is None:
        return [VerdictRow.verdict == VERDICT_OF_REASON.get(reason, "")]
    if verdict is None and reason is None and source is None:
        return [VerdictRow.source == s for s in SOURCES]
    return []


def _page_query(
    conditions: list[ColumnElement[bool]], branches: list[ColumnElement[bool]], limit: int
) -> Select[Any]:
    order = (VerdictRow.time.desc(), VerdictRow.verdict_id.desc())
    if len(branches) <= 1:
        return select(*_PAGE_COLUMNS).where(*conditions, *branches).order_by(*order).limit(limit)
    parts = [
        select(*_PAGE_COLUMNS).where(*conditions, branch).order_by(*order).limit(limit).subquery().select()
        for branch in branches
    ]
    merged = union_all(*parts).subquery()
    return (
        select(merged.c.record, merged.c.time, merged.c.verdict_id)
        .order_by(merged.c.time.desc(), merged.c.verdict_id.desc())
        .limit(limit)
    )
