"""The baseline store: the whole baseline in bulk, versioned edits, and what changed since a version.

Every write runs in one transaction that first takes the store's writer lock (a transaction-level
advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite). Writers are therefore serialized and
``baseline_changes.version`` values become visible in increasing order: a reader that has seen
version N has seen every change up to N, which is what lets workers follow the store with
``changes_since`` instead of replaying a log. A write that changes nothing writes no change row
and keeps the version; every other write adds exactly one row (one version bump).

Bulk reads skip the ORM: three plain SELECTs whose raw column tuples are turned straight into
model objects (on PostgreSQL through asyncpg's own cursor, JSON columns read as text and decoded
with orjson once per distinct value, repeated strings interned). The tables keep no position, so
records come back in one canonical order (identities by id, aliases sorted, entitlements by id);
``canonical_identity`` gives that form and diffs compare in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from enricher.adapters.store.models import (
    BaselineChangeRow,
    BaselineSettingRow,
    EntitlementRow,
    IdentityAliasRow,
    IdentityRow,
)
from enricher.core.baseline import paused_gc
from enricher.core.baseline_file import validate_document
from enricher.core.model import BaselineDocument, BaselineSettings, Conditions, Entitlement, Identity
from enricher.errors import BaselineError, Problem

# Any fixed 64-bit number: the key of the advisory lock every baseline writer takes on PostgreSQL.
WRITER_LOCK_KEY: Final = 0x656E_7269_6368_6572
_FETCH_ROWS: Final = 50_000
_PG_FETCH_ROWS: Final = 10_000  # ~2 MB of rows: fits the loopback socket buffers while being decoded
_IN_CHUNK: Final = 500  # ids per ``IN (...)``: well below SQLite's and asyncpg's bind limits
_NO_CONDITIONS: Final = Conditions()
_DEFAULT_SETTINGS: Final = BaselineSettings()
_S = sys.intern
_BY_ID: Final = attrgetter("id")

_IDENTITIES: Final[Table] = IdentityRow.__table__  # type: ignore[assignment]
_ALIASES: Final[Table] = IdentityAliasRow.__table__  # type: ignore[assignment]
_ENTITLEMENTS: Final[Table] = EntitlementRow.__table__  # type: ignore[assignment]
_SETTINGS: Final[Table] = BaselineSettingRow.__table__  # type: ignore[assignment]
_CHANGES: Final[Table] = BaselineChangeRow.__table__  # type: ignore[assignment]

_ALIAS_SQL: Final = "SELECT identity_id, alias FROM identity_aliases"
_IDENTITY_SQL: Final = "SELECT id, kind, owner, purpose, status FROM identities"
# JSON columns come back as text, decoded by _Assembler once per distinct value.
_ENTITLEMENT_SQL: Final = (
    "SELECT identity_id, id, system, {json}, valid_from, valid_until, approved_by, ticket FROM entitlements"
)
_VERSION_SQL: Final = "SELECT coalesce(max(version), 0) FROM baseline_changes"
# on a pooled PostgreSQL connection, SQLAlchemy's JSONB codec would decode in Python: cast to text
_PG_JSON: Final = "CAST(actions AS text), CAST(resources AS text), CAST(conditions AS text)"
_PLAIN_JSON: Final = "actions, resources, conditions"


@dataclass(frozen=True, slots=True)
class BaselineDelta:
    """What changed after a version: the current records of changed identities, removed ids, settings."""

    version: int  # the store's baseline_version after these changes
    upserts: tuple[Identity, ...]  # full current records of changed identities
    deletes: tuple[str, ...]  # ids removed
    settings: BaselineSettings | None  # new settings when they changed, else None


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """The outcome of one write: the version after it and what it touched (empty: nothing changed)."""

    version: int
    upserted: tuple[str, ...]
    deleted: tuple[str, ...]
    settings_changed: bool


def canonical_identity(identity: Identity) -> Identity:
    """The identity as the store returns it: aliases sorted, entitlements ordered by id."""
    aliases = tuple(sorted(identity.aliases))
    entitlements = tuple(sorted(identity.entitlements, key=_BY_ID))
    return replace(identity, aliases=aliases, entitlements=entitlements)


def _alias_spellings(alias: str) -> tuple[str, str]:
    # A SPIFFE id resolves with and without its scheme, so both spellings belong to one identity.
    if alias.startswith("spiffe://"):
        return alias, alias[9:]
    return alias, "spiffe://" + alias


# ------------------------------------------------------------------------------------ row decoding


def _sqlite_time(value: str | datetime | None) -> datetime | None:
    """SQLite keeps UTC as naive text (see models.UTCDateTime)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


# A snapshot builds a million entitlements. Entitlement is a frozen slotted dataclass whose
# __init__ sets each field through object.__setattr__, which costs twice what filling its slots
# directly does, so _Assembler fills the slots (checked here against the model's fields).
_ENTITLEMENT_FIELDS: Final = (
    "id", "system", "actions", "resources", "conditions", "valid_from", "valid_until", "approved_by", "ticket",
)  # fmt: skip
if tuple(f.name for f in fields(Entitlement)) != _ENTITLEMENT_FIELDS:
    raise RuntimeError("Entitlement's fields changed: update _ENTITLEMENT_FIELDS and _Assembler")
_ENTITLEMENT_SETTERS: Final = tuple(getattr(Entitlement, name).__set__ for name in _ENTITLEMENT_FIELDS)
_new = object.__new__


class _Assembler:
    """Builds model objects from raw row tuples, sharing every repeated value."""

    def __init__(self, text_times: bool) -> None:
        self.aliases: dict[str, list[str]] = {}
        self.entitlements: dict[str, list[Entitlement]] = {}
        self._text_times = text_times
        self._actions: dict[str, tuple[str, ...]] = {}
        self._conditions: dict[str, Conditions] = {}
        self._strings: dict[str, str] = {}

    def add_aliases(self, rows: Iterable[Sequence[Any]]) -> None:
        aliases = self.aliases
        for identity_id, alias in rows:
            found = aliases.get(identity_id)
            if found is None:
                aliases[identity_id] = [alias]
            else:
                found.append(alias)

    def _actions_of(self, raw: str) -> tuple[str, ...]:
        actions = self._actions[raw] = tuple(_S(a) for a in orjson.loads(raw))
        return actions

    def _conditions_of(self, raw: str) -> Conditions:
        cidrs = orjson.loads(raw).get("source_cidrs") or ()
        found = self._conditions[raw] = Conditions(tuple(cidrs)) if cidrs else _NO_CONDITIONS
        return found

    def add_entitlements(self, rows: Iterable[Sequence[Any]]) -> None:
        out, loads, text_times, shared = (
            self.entitlements,
            orjson.loads,
            self._text_times,
            self._strings.setdefault,
        )
        actions_cache, conditions_cache = self._actions, self._conditions
        (
            set_id,
            set_system,
            set_actions,
            set_resources,
            set_conditions,
            set_from,
            set_until,
            set_by,
            set_ticket,
        ) = _ENTITLEMENT_SETTERS
        for iid, eid, system, actions, resources, conditions, vf, vu, by, ticket in rows:
            if text_times and (vf is not None or vu is not None):
                vf, vu = _sqlite_time(vf), _sqlite_time(vu)
            ent = _new(Entitlement)
            set_id(ent, shared(eid, eid))
            set_system(ent, shared(system, system))
            set_actions(ent, actions_cache.get(actions) or self._actions_of(actions))
            set_resources(ent, tuple(loads(resources)))
            set_conditions(ent, conditions_cache.get(conditions) or self._conditions_of(conditions))
            set_from(ent, vf)
            set_until(ent, vu)
            set_by(ent, by if by is None else shared(by, by))
            set_ticket(ent, ticket if ticket is None else shared(ticket, ticket))
            found = out.get(iid)
            if found is None:
                out[iid] = [ent]
            else:
                found.append(ent)

    def identities(self, rows: Iterable[Sequence[Any]]) -> list[Identity]:
        """The identity rows joined with the aliases and entitlements added so far, ordered by id."""
        aliases, entitlements = self.aliases, self.entitlements
        out = []
        for iid, kind, owner, purpose, status in rows:
            found_aliases = aliases.get(iid)
            found_ents = entitlements.get(iid)
            if found_ents is not None and len(found_ents) > 1:
                found_ents.sort(key=_BY_ID)
            out.append(
                Identity(
                    iid,
                    _S(kind),
                    _S(owner),
                    _S(purpose),
                    _S(status),
                    tuple(sorted(found_aliases)) if found_aliases else (),
                    tuple(found_ents) if found_ents else (),
                )
            )
        out.sort(key=_BY_ID)
        return out


def _file_as_old() -> None:
    """Move every tracked object to the oldest GC generation without scanning it.

    Re-enabling the collector after building a whole snapshot would otherwise scan its ~3 million
    new objects at once, then again as they age through the middle generation (~0.6 s each for
    1,000,000 entitlements); filed as old they are scanned at the next full collection only.
    """
    gc.freeze()  # into the permanent generation ...
    gc.unfreeze()  # ... and back into the oldest one: nothing is scanned either way


def _settings_from(rows: Iterable[tuple[str, Any]]) -> BaselineSettings:
    values = dict(rows)
    return BaselineSettings(
        out_of_scope=tuple(values.get("out_of_scope", _DEFAULT_SETTINGS.out_of_scope)),
        mesh_require_identity=bool(values.get("mesh_require_identity", False)),
        unused_after_days=int(values.get("unused_after_days", _DEFAULT_SETTINGS.unused_after_days)),
    )


# -------------------------------------------------------------------------------------- row access


class _Rows:
    """Raw row access: asyncpg's own cursor on PostgreSQL, the DBAPI cursor on SQLite.

    ``sa`` is the SQLAlchemy connection whose transaction the reads share (its first statement
    must have gone through SQLAlchemy, which opens the transaction); ``pg`` is the asyncpg
    connection, either the one under ``sa`` (whose JSONB codec SQLAlchemy replaced, so JSON
    columns are cast to text on the server) or a dedicated one with asyncpg's own codecs.
    """

    def __init__(self, sa: AsyncConnection | None, pg: Any = None, cast_json: bool = True) -> None:
        self.sa = sa
        self.pg = pg
        self._json = (_PG_JSON if cast_json else _PLAIN_JSON) if pg is not None else _PLAIN_JSON

    @classmethod
    async def on(cls, conn: AsyncConnection) -> _Rows:
        """Row access sharing ``conn``'s transaction."""
        if conn.dialect.name == "postgresql":
            raw = await conn.get_raw_connection()
            return cls(conn, raw.driver_connection, cast_json=True)
        return cls(conn)

    @property
    def conn(self) -> AsyncConnection:
        """The SQLAlchemy connection (writes go through it)."""
        if self.sa is None:
            raise RuntimeError("a dedicated read connection has no SQLAlchemy connection")
        return self.sa

    async def _batches(
        self, sql: str, column: str, ids: Sequence[str] | None
    ) -> AsyncIterator[Sequence[Sequence[Any]]]:
        if self.pg is not None:
            if ids is None:
                cursor = await self.pg.cursor(sql)
            else:
                cursor = await self.pg.cursor(f"{sql} WHERE {column} = ANY($1::text[])", list(ids))
            # Ask for the next batch before handing this one out: the server fills the socket
            # buffers while the caller turns the rows into objects (the two run on different cores).
            pending = asyncio.ensure_future(cursor.fetch(_PG_FETCH_ROWS))
            try:
                while batch := await pending:
                    pending = asyncio.ensure_future(cursor.fetch(_PG_FETCH_ROWS))
                    await asyncio.sleep(0)  # let the request go out
                    yield batch
            finally:
                if not pending.done():  # the caller stopped early: do not leave a fetch running
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError, asyncpg.PostgresError):
                        await pending
            return
        if ids is None:
            result = await self.conn.exec_driver_sql(sql)
            while batch := result.fetchmany(_FETCH_ROWS):
                yield batch
            return
        for chunk in _chunks(ids):
            marks = ", ".join("?" * len(chunk))
            result = await self.conn.exec_driver_sql(f"{sql} WHERE {column} IN ({marks})", tuple(chunk))
            yield result.fetchall()

    async def identities(self, ids: Sequence[str] | None = None) -> list[Identity]:
        """Identities (all, or those of ``ids`` that exist) with aliases and entitlements, by id."""
        assembler = _Assembler(text_times=self.pg is None)
        found: list[Identity] = []
        with paused_gc():
            async for batch in self._batches(_ALIAS_SQL, "identity_id", ids):
                assembler.add_aliases(batch)
            async for batch in self._batches(_ENTITLEMENT_SQL.format(json=self._json), "identity_id", ids):
                assembler.add_entitlements(batch)
            async for batch in self._batches(_IDENTITY_SQL, "id", ids):
                found.extend(assembler.identities(batch))
            found.sort(key=_BY_ID)
            if ids is None:
                _file_as_old()
        return found

    async def settings(self) -> BaselineSettings:
        if self.pg is not None:
            rows = await self.pg.fetch("SELECT key, CAST(value AS text) FROM baseline_settings")
        else:
            rows = (await self.conn.exec_driver_sql("SELECT key, value FROM baseline_settings")).all()
        # SQLite gives a JSON column NUMERIC affinity: a stored number comes back as a number
        return _settings_from((k, orjson.loads(v) if isinstance(v, str) else v) for k, v in rows)

    async def version(self) -> int:
        if self.sa is None:
            return int(await self.pg.fetchval(_VERSION_SQL))
        return int((await self.sa.exec_driver_sql(_VERSION_SQL)).scalar_one())


# ------------------------------------------------------------------------------------------ writes


_IDENTITY_FIELDS: Final = ("kind", "owner", "purpose", "status")
_ENTITLEMENT_COLUMNS: Final = (
    "identity_id", "id", "system", "actions", "resources", "conditions",
    "valid_from", "valid_until", "approved_by", "ticket",
)  # fmt: skip


def _no_change(value: Any) -> Any:
    return value


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _entitlement_values(identity_id: str, ent: Entitlement, json: Any) -> tuple[Any, ...]:
    """One entitlements row in ``_ENTITLEMENT_COLUMNS`` order; ``json`` encodes the JSON columns."""
    cidrs = ent.conditions.source_cidrs
    return (
        identity_id,
        ent.id,
        ent.system,
        json(list(ent.actions)),
        json(list(ent.resources)),
        json({"source_cidrs": list(cidrs)} if cidrs else {}),
        ent.valid_from,
        ent.valid_until,
        ent.approved_by,
        ent.ticket,
    )


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    return (ids[start : start + _IN_CHUNK] for start in range(0, len(ids), _IN_CHUNK))


async def _remove(rows: _Rows, rewritten: Sequence[str], deleted: Sequence[str]) -> None:
    """Drop the aliases and entitlements of ``rewritten`` and ``deleted``, and ``deleted`` themselves."""
    touched = [*rewritten, *deleted]
    steps = (
        (_ALIASES, "identity_id", touched),
        (_ENTITLEMENTS, "identity_id", touched),
        (_IDENTITIES, "id", deleted),
    )
    for table, column, ids in steps:
        if not ids:
            continue
        if rows.pg is not None:
            await rows.pg.execute(f"DELETE FROM {table.name} WHERE {column} = ANY($1::text[])", list(ids))
            continue
        for chunk in _chunks(ids):
            await rows.conn.execute(delete(table).where(table.c[column].in_(chunk)))


async def _insert(rows: _Rows, table: Table, columns: Sequence[str], values: list[tuple[Any, ...]]) -> None:
    """Bulk insert: binary COPY on PostgreSQL, executemany on SQLite."""
    if not values:
        return
    if rows.pg is not None:
        await rows.pg.copy_records_to_table(table.name, records=values, columns=list(columns))
        return
    # SQLAlchemy builds and processes parameters per row: keep the cyclic GC from rescanning them
    with paused_gc():
        records = [dict(zip(columns, row, strict=True)) for row in values]
        await rows.conn.execute(insert(table), records)


async def _write(rows: _Rows, identities: Sequence[Identity], existing: set[str]) -> None:
    """Write ``identities`` whole; those in ``existing`` must have had their children removed."""
    # PostgreSQL's COPY goes through the connection's JSONB codec (SQLAlchemy's), which takes JSON
    # text; on SQLite the column types of the models serialize.
    json = _json_text if rows.pg is not None else _no_change
    with paused_gc():
        updates = [
            {"b_id": i.id, **{f"b_{f}": getattr(i, f) for f in _IDENTITY_FIELDS}}
            for i in identities
            if i.id in existing
        ]
        new = [(i.id, i.kind, i.owner, i.purpose, i.status) for i in identities if i.id not in existing]
        aliases = [(a, i.id) for i in identities for a in i.aliases]
        entitlements = [_entitlement_values(i.id, e, json) for i in identities for e in i.entitlements]
    if updates:
        statement = (
            update(_IDENTITIES)
            .where(_IDENTITIES.c.id == bindparam("b_id"))
            .values(
                {**{f: bindparam(f"b_{f}") for f in _IDENTITY_FIELDS}, "updated_at": func.current_timestamp()}
            )
        )
        await rows.conn.execute(statement, updates)
    await _insert(rows, _IDENTITIES, ("id", *_IDENTITY_FIELDS), new)
    await _insert(rows, _ALIASES, ("alias", "identity_id"), aliases)
    await _insert(rows, _ENTITLEMENTS, _ENTITLEMENT_COLUMNS, entitlements)


async def _write_settings(conn: AsyncConnection, settings: BaselineSettings) -> None:
    await conn.execute(delete(_SETTINGS))
    values = {
        "out_of_scope": list(settings.out_of_scope),
        "mesh_require_identity": settings.mesh_require_identity,
        "unused_after_days": settings.unused_after_days,
    }
    await conn.execute(insert(_SETTINGS), [{"key": k, "value": v} for k, v in values.items()])


async def _log_change(
    conn: AsyncConnection,
    author: str,
    summary: str,
    upserted: Sequence[str],
    deleted: Sequence[str],
    settings: bool,
) -> int:
    change = {"upserted": list(upserted), "deleted": list(deleted), "settings": settings}
    statement = (
        insert(_CHANGES).values(author=author, summary=summary, change=change).returning(_CHANGES.c.version)
    )
    return int((await conn.execute(statement)).scalar_one())


def _refuse(problems: list[Problem]) -> None:
    if problems:
        raise BaselineError(problems, source="baseline")


# -------------------------------------------------------------------------------------- repository


class BaselineRepository:
    """The baseline in the store (PostgreSQL or SQLite): bulk snapshot, versioned writes, deltas."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[tuple[_Rows, int]]:
        """One consistent read (REPEATABLE READ on PostgreSQL) and the version it sees."""
        async with self._engine.connect() as conn:
            if self._postgres:
                conn = await conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            else:
                # pysqlite opens no transaction for SELECTs: without this, each read is its own snapshot
                await conn.exec_driver_sql("BEGIN")
            try:
                rows = await _Rows.on(conn)
                # through SQLAlchemy first: that opens the transaction the raw reads then share
                yield rows, await rows.version()
            finally:
                await conn.rollback()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[_Rows]:
        """One write transaction holding the writer lock from its first statement to its commit."""
        async with self._engine.connect() as conn:
            if self._postgres:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK_KEY})
            else:
                # take the write lock up front: a deferred transaction that read first would fail
                # (not wait) when another writer committed in between
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield await _Rows.on(conn)
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()

    async def current_version(self) -> int:
        """``baseline_version``: the newest change row's version, 0 for a store never written."""
        async with self._engine.connect() as conn:
            return await _Rows(conn).version()

    async def version_info(self) -> tuple[int, datetime | None]:
        """The current version and when that change was made (None for a store never written)."""
        statement = select(_CHANGES.c.version, _CHANGES.c.changed_at).order_by(_CHANGES.c.version.desc())
        async with self._engine.connect() as conn:
            row = (await conn.execute(statement.limit(1))).first()
        return (0, None) if row is None else (int(row[0]), row[1])

    async def load_snapshot(self) -> tuple[BaselineDocument, int]:
        """The whole baseline and the version it is at, read in one consistent transaction."""
        if self._postgres:
            return await _pg_snapshot(self._engine)
        async with self._reading() as (rows, version):
            identities = await rows.identities()
            settings = await rows.settings()
        return BaselineDocument(identities=tuple(identities), settings=settings), version

    async def get_identity(self, identity_id: str) -> Identity | None:
        """One identity's current record, or None."""
        async with self._reading() as (rows, _):
            found = await rows.identities([identity_id])
        return found[0] if found else None

    async def import_document(self, doc: BaselineDocument, *, author: str, summary: str = "") -> ChangeResult:
        """Make the store hold exactly ``doc``, writing only what differs, as one versioned change."""
        with paused_gc():
            _refuse(validate_document(doc))
            wanted = {identity.id: canonical_identity(identity) for identity in doc.identities}
        async with self._writing() as rows:
            stored = {identity.id: identity for identity in await rows.identities()}
            with paused_gc():
                upserts = [identity for iid, identity in wanted.items() if stored.get(iid) != identity]
                deleted = sorted(stored.keys() - wanted.keys())
            settings_changed = await rows.settings() != doc.settings
            if not upserts and not deleted and not settings_changed:
                return ChangeResult(await rows.version(), (), (), False)
            existing = {identity.id for identity in upserts if identity.id in stored}
            await _remove(rows, sorted(existing), deleted)
            await _write(rows, upserts, existing)
            if settings_changed:
                await _write_settings(rows.conn, doc.settings)
            upserted = sorted(identity.id for identity in upserts)
            version = await _log_change(rows.conn, author, summary, upserted, deleted, settings_changed)
        return ChangeResult(version, tuple(upserted), tuple(deleted), settings_changed)

    async def upsert_identity(self, identity: Identity, *, author: str) -> ChangeResult:
        """Create or replace one identity (validated, aliases unique across the store)."""
        _refuse(validate_document(BaselineDocument(identities=(identity,))))
        identity = canonical_identity(identity)
        async with self._writing() as rows:
            _refuse(await _alias_clashes(rows.conn, identity))
            found = await rows.identities([identity.id])
            if found and found[0] == identity:
                return ChangeResult(await rows.version(), (), (), False)
            existing = {identity.id} if found else set()
            await _remove(rows, sorted(existing), ())
            await _write(rows, [identity], existing)
            version = await _log_change(rows.conn, author, f"upsert {identity.id}", [identity.id], [], False)
        return ChangeResult(version, (identity.id,), (), False)

    async def delete_identity(self, identity_id: str, *, author: str) -> ChangeResult:
        """Remove one identity with its aliases and entitlements; LookupError when it is absent."""
        async with self._writing() as rows:
            if not await rows.identities([identity_id]):
                raise LookupError(f"no identity {identity_id!r} in the baseline")
            await _remove(rows, (), [identity_id])
            version = await _log_change(rows.conn, author, f"delete {identity_id}", [], [identity_id], False)
        return ChangeResult(version, (), (identity_id,), False)

    async def changes_since(self, version: int) -> BaselineDelta:
        """Everything changed after ``version``, as the current records of the identities concerned.

        Several change rows collapse into one delta: an identity changed twice appears once, with
        its record as it is now; one deleted after changing is in ``deletes``.
        """
        async with self._reading() as (rows, current):
            if current <= version:
                return BaselineDelta(current, (), (), None)
            statement = select(_CHANGES.c.change).where(_CHANGES.c.version > version)
            touched: set[str] = set()
            settings_changed = False
            for change in (await rows.conn.execute(statement)).scalars():
                touched.update(change.get("upserted", ()))
                touched.update(change.get("deleted", ()))
                settings_changed |= bool(change.get("settings"))
            found = await rows.identities(sorted(touched)) if touched else []
            settings = await rows.settings() if settings_changed else None
        deletes = touched.difference(identity.id for identity in found)
        return BaselineDelta(current, tuple(found), tuple(sorted(deletes)), settings)

    async def history(self, limit: int = 50, identity_id: str | None = None) -> list[dict[str, object]]:
        """The newest change rows first (version, author, changed_at, summary, change), optionally
        only those that touched ``identity_id``."""
        columns = (_CHANGES.c.version, _CHANGES.c.author, _CHANGES.c.changed_at, _CHANGES.c.summary)
        statement = select(*columns, _CHANGES.c.change).order_by(_CHANGES.c.version.desc()).limit(limit)
        if identity_id is not None:
            statement = statement.where(_touches(self._postgres).bindparams(identity=identity_id))
        async with self._engine.connect() as conn:
            result = await conn.execute(statement)
            return [
                {"version": v, "author": a, "changed_at": at, "summary": s, "change": c}
                for v, a, at, s, c in result.all()
            ]


async def _pg_snapshot(engine: AsyncEngine) -> tuple[BaselineDocument, int]:
    """The whole baseline over a dedicated asyncpg connection with asyncpg's own codecs.

    SQLAlchemy's pooled connections decode JSONB with a Python callback per value (three per
    entitlement row); asyncpg's built-in codec hands over the text, which ``_Assembler`` decodes
    once per distinct value. The URL's connection arguments (host, ``ssl`` ...) are the engine's.
    """
    _, options = engine.dialect.create_connect_args(engine.url)
    for key in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"):
        options.pop(key, None)
    conn = await asyncpg.connect(**options)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            rows = _Rows(None, conn, cast_json=False)
            version = await rows.version()
            identities = await rows.identities()
            settings = await rows.settings()
    finally:
        await conn.close()
    return BaselineDocument(identities=tuple(identities), settings=settings), version


def _touches(postgres: bool) -> Any:
    """A filter on baseline_changes: the row upserted or deleted the bound ``:identity``."""
    if postgres:
        return text(
            "(baseline_changes.change -> 'upserted') @> to_jsonb(CAST(:identity AS text))"
            " OR (baseline_changes.change -> 'deleted') @> to_jsonb(CAST(:identity AS text))"
        )
    return text(
        "EXISTS (SELECT 1 FROM json_each(baseline_changes.change, '$.upserted') WHERE value = :identity)"
        " OR EXISTS (SELECT 1 FROM json_each(baseline_changes.change, '$.deleted') WHERE value = :identity)"
    )


async def _alias_clashes(conn: AsyncConnection, identity: Identity) -> list[Problem]:
    """Aliases of ``identity`` that another stored identity already lists (either SPIFFE spelling)."""
    owners: dict[str, str] = {}
    spellings = sorted({s for alias in identity.aliases for s in _alias_spellings(alias)})
    for chunk in _chunks(spellings):
        statement = select(_ALIASES.c.alias, _ALIASES.c.identity_id).where(
            _ALIASES.c.alias.in_(chunk), _ALIASES.c.identity_id != identity.id
        )
        owners.update((alias, owner) for alias, owner in (await conn.execute(statement)).all())
    problems = []
    for alias in identity.aliases:
        owner = next((owners[s] for s in _alias_spellings(alias) if s in owners), None)
        if owner is not None:
            message = f"identity {identity.id!r}: alias {alias!r} is already listed by identity {owner!r}"
            problems.append(Problem(0, message))
    return problems
