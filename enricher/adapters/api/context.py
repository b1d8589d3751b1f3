"""What every route reaches through ``app.state``: settings, engine, repositories, metrics.

The repositories are described here as protocols, so that the API states exactly which store
operations it relies on; ``create_app`` wires the real ones.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from enricher.adapters.metrics import Metrics
from enricher.adapters.store.baseline_repo import ChangeResult
from enricher.adapters.store.token_repo import TokenRepository
from enricher.config import Settings
from enricher.core.model import BaselineDocument, Identity


class BaselineStore(Protocol):
    """The baseline operations the API uses."""

    async def current_version(self) -> int: ...
    async def version_info(self) -> tuple[int, datetime | None]: ...
    async def get_identity(self, identity_id: str) -> Identity | None: ...
    async def upsert_identity(self, identity: Identity, *, author: str) -> ChangeResult: ...
    async def delete_identity(self, identity_id: str, *, author: str) -> ChangeResult: ...
    async def load_snapshot(self) -> tuple[BaselineDocument, int]: ...
    async def history(self, limit: int = 50, identity_id: str | None = None) -> list[dict[str, object]]: ...


class VerdictStore(Protocol):
    """The verdict-store operations the API uses."""

    async def get_by_event(self, event_id: str) -> list[dict[str, Any]]: ...
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
    ) -> tuple[list[dict[str, Any]], str | None]: ...
    async def related(
        self, record: dict[str, Any], window: timedelta = ..., limit: int = 50
    ) -> list[dict[str, Any]]: ...
    async def counts_for_identity(self, identity_id: str) -> dict[str, int]: ...
    async def timeline(
        self,
        identity_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]: ...
    async def last_used(self, identity_id: str) -> dict[str, datetime]: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A loaded baseline with the indexes the list and summary routes need."""

    document: BaselineDocument
    version: int
    ordered: tuple[Identity, ...]
    ids: tuple[str, ...]
    kinds: dict[str, int]
    statuses: dict[str, int]
    systems: dict[str, int]
    entitlements: int
    aliases: int

    @classmethod
    def of(cls, document: BaselineDocument, version: int) -> Snapshot:
        """Index ``document`` (identities sorted by id, counts by kind, status and system)."""
        ordered = tuple(sorted(document.identities, key=lambda i: i.id))
        systems = Counter(e.system for i in ordered for e in i.entitlements)
        return cls(
            document=document,
            version=version,
            ordered=ordered,
            ids=tuple(i.id for i in ordered),
            kinds=dict(Counter(i.kind for i in ordered)),
            statuses=dict(Counter(i.status for i in ordered)),
            systems=dict(systems),
            entitlements=sum(systems.values()),
            aliases=sum(len(i.aliases) for i in ordered),
        )


@dataclass(slots=True)
class SnapshotCache:
    """The whole baseline for the list and summary routes, reloaded only when the version moved."""

    store: BaselineStore
    _current: Snapshot | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self) -> Snapshot:
        """The snapshot of the current ``baseline_version`` (one cheap query when unchanged)."""
        version = await self.store.current_version()
        current = self._current
        if current is not None and current.version == version:
            return current
        async with self._lock:
            current = self._current
            if current is None or current.version != version:
                document, loaded = await self.store.load_snapshot()
                current = self._current = Snapshot.of(document, loaded)
            return current


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Everything a request handler may use; built once per app by ``create_app``."""

    settings: Settings
    engine: AsyncEngine
    baselines: BaselineStore
    verdicts: VerdictStore
    tokens: TokenRepository
    metrics: Metrics
    snapshots: SnapshotCache
    head_revision: str


def get_context(request: Request) -> ApiContext:
    """The app's ``ApiContext`` (FastAPI dependency)."""
    return cast(ApiContext, request.app.state.context)
