"""The compiled baseline every worker judges against, kept current from the store.

A background thread loads a snapshot in bulk, compiles it, then asks the store for its
``baseline_version`` every ``baseline_poll_interval_s``; when the version moved it fetches only
the changed identities (``changes_since``) and derives a new snapshot with ``apply_changes``.
The hot loop reads ``cache.current`` once per batch: swapping the reference is the whole
hand-over, so a change never pauses the loop. The same thread writes the hot loop's
pre-aggregated entitlement last-use times to the store, once a second.

Why not a faust GlobalTable on the compacted topic (the arrangement first planned): faust rebuilt
tables at ~4,300 records/s on this machine, so a cold start with 100,000 identities would replay
for ~25 s, against a bulk snapshot load of seconds; and the store is the source of truth, so
following it directly has no second copy to drift. Numbers in docs/performance.md.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from enricher.adapters.metrics import Metrics
from enricher.adapters.store.baseline_repo import BaselineRepository
from enricher.adapters.store.engine import create_engine_for
from enricher.adapters.store.models import BaselineChangeRow, EntitlementUsageRow
from enricher.config import Settings
from enricher.core.baseline import CompiledBaseline, apply_changes, compile_baseline
from enricher.core.unused import find_unused
from enricher.core.verdict import Verdict

log = logging.getLogger(__name__)

# Past this many changed identities a full reload is cheaper than an incremental apply.
FULL_RELOAD_FRACTION = 0.2
MAX_BACKOFF_S = 10.0

Usage = Mapping[tuple[str, str], datetime]
FindingsSink = Callable[[list[Verdict]], None]


class BaselineCache:
    """Holds ``current`` (the compiled baseline in force) and keeps it up to date in a thread."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._current: CompiledBaseline | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._usage_lock = threading.Lock()
        self._usage: dict[tuple[str, str], datetime] = {}
        self._checked_at = 0.0
        self._is_leader: Callable[[], bool] = lambda: False
        self._emit: FindingsSink | None = None
        self.error: BaseException | None = None

    @property
    def current(self) -> CompiledBaseline:
        """The snapshot in force; only valid once ``wait_ready`` returned True."""
        baseline = self._current
        if baseline is None:
            raise RuntimeError("the baseline is not loaded yet")
        return baseline

    def start(self) -> None:
        """Start following the store in a daemon thread."""
        self._thread = threading.Thread(target=self._thread_main, name="baseline-cache", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the first snapshot is compiled (the worker serves only after that)."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Flush pending usage and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def emit_unused_findings(self, is_leader: Callable[[], bool], emit: FindingsSink) -> None:
        """Run the unused-entitlement check every ``unused_check_interval_s`` while ``is_leader()``."""
        self._is_leader = is_leader
        self._emit = emit

    def record_usage(self, usage: Usage) -> None:
        """Merge a batch's entitlement last-use times; written to the store by the thread."""
        if not usage:
            return
        with self._usage_lock:
            pending = self._usage
            for key, when in usage.items():
                known = pending.get(key)
                if known is None or known < when:
                    pending[key] = when

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._follow())
        except BaseException as exc:  # surfaced to the worker, which exits non-zero
            self.error = exc
            log.exception("baseline cache stopped")
            self._ready.set()

    async def _follow(self) -> None:
        engine = create_engine_for(self._settings.database_url)
        repo = BaselineRepository(engine)
        try:
            await self._load_snapshot(repo)
            self._ready.set()
            # compile every identity's index now, beside the hot loop, instead of on first touch
            threading.Thread(target=self.current.warm, name="baseline-warm", daemon=True).start()
            backoff = self._settings.baseline_poll_interval_s
            next_usage = time.monotonic() + self._settings.usage_flush_interval_s
            next_unused = time.monotonic() + min(self._settings.unused_check_interval_s, 60.0)
            while not self._stop.is_set():
                try:
                    await self._refresh(repo)
                    if time.monotonic() >= next_usage:
                        await self._flush_usage(engine)
                        next_usage = time.monotonic() + self._settings.usage_flush_interval_s
                    if self._settings.unused_check_interval_s and time.monotonic() >= next_unused:
                        next_unused = time.monotonic() + self._settings.unused_check_interval_s
                        await self._check_unused(engine)
                    backoff = self._settings.baseline_poll_interval_s
                except Exception as exc:  # the store is down: keep the old baseline, retry with backoff
                    log.warning(
                        "baseline store unavailable, keeping version %s: %s", self.current.version, exc
                    )
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                self._metrics.baseline_age.set(time.monotonic() - self._checked_at)
                await asyncio.sleep(backoff)
            await self._flush_usage(engine)
        finally:
            await engine.dispose()

    async def _load_snapshot(self, repo: BaselineRepository) -> None:
        started = time.perf_counter()
        doc, version = await repo.load_snapshot()
        baseline = compile_baseline(doc, version)
        del doc
        # the baseline is long-lived: keep the cyclic GC from rescanning it every batch (a full
        # collect first would cost ~1.3 s at 1,000,000 entitlements)
        gc.freeze()
        self._install(baseline)
        log.info(
            "baseline loaded",
            extra={
                "baseline_version": version,
                "identities": len(baseline.identities),
                "entitlements": baseline.entitlement_count,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    async def _refresh(self, repo: BaselineRepository) -> None:
        current = self.current
        version = await repo.current_version()
        self._checked_at = time.monotonic()
        if version <= current.version:
            return
        delta = await repo.changes_since(current.version)
        changed = len(delta.upserts) + len(delta.deletes)
        if changed > FULL_RELOAD_FRACTION * max(len(current.identities), 1):
            await self._load_snapshot(repo)
            return
        self._install(apply_changes(current, delta.upserts, delta.deletes, delta.settings, delta.version))
        log.info(
            "baseline changed",
            extra={
                "baseline_version": delta.version,
                "upserted": len(delta.upserts),
                "deleted": len(delta.deletes),
            },
        )

    def _install(self, baseline: CompiledBaseline) -> None:
        self._current = baseline
        self._checked_at = time.monotonic()
        self._metrics.baseline_version.set(baseline.version)
        self._metrics.baseline_entitlements.set(baseline.entitlement_count)
        self._metrics.baseline_identities.set(len(baseline.identities))

    async def _check_unused(self, engine: AsyncEngine) -> None:
        """Emit unused-entitlement findings (only on the leader worker, so once per cluster)."""
        if self._emit is None or not self._is_leader():
            return
        await self._flush_usage(engine)
        async with engine.connect() as conn:
            first = (await conn.execute(select(func.min(BaselineChangeRow.changed_at)))).scalar()
            rows = await conn.execute(
                select(
                    EntitlementUsageRow.identity_id,
                    EntitlementUsageRow.entitlement_id,
                    EntitlementUsageRow.last_used,
                )
            )
            last_used = {(identity, ent): when for identity, ent, when in rows}
        now = datetime.now(UTC)
        findings = find_unused(self.current, last_used, now, observing_since=first or now)
        if findings:
            self._emit(findings)
        log.info("unused-entitlement check", extra={"findings": len(findings)})

    async def _flush_usage(self, engine: AsyncEngine) -> None:
        with self._usage_lock:
            pending, self._usage = self._usage, {}
        if not pending:
            return
        from enricher.adapters.store.verdict_repo import VerdictRepository

        try:
            await VerdictRepository(engine).record_usage(pending)
        except Exception:
            self.record_usage(pending)  # keep it for the next flush
            raise
