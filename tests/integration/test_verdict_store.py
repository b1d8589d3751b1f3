"""The verdict store on real PostgreSQL (partitioned by day) and on SQLite: writes, queries, retention.

Every query is checked against the same question answered in Python over the verdicts inserted,
so a filter, an order or a page boundary that is wrong shows up as a difference.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from enricher.adapters.store.engine import create_engine_for
from enricher.adapters.store.verdict_repo import BadVerdictRecord, Page, VerdictRepository
from enricher.core.pipeline import serialize_verdict
from enricher.core.verdict import Verdict
from tests.conftest import CORPUS, REPO
from tests.integration.store_support import quiesce_autovacuum
from tests.unit.verdict_samples import PAIRS, sample

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
IDENTITIES = ("payments-api", "argocd", "report-exporter")
SHADOW = "arn:aws:sts::111122223333:assumed-role/shadow-etl/etl-9f2c"


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated store on each database."""
    return str(request.getfixturevalue("pg_database" if request.param == "postgresql" else "sqlite_url"))


@pytest.fixture
async def pg_database(pg_database: str) -> AsyncIterator[str]:
    """The shared fixture's database, with autovacuum kept out of it before it is dropped."""
    yield pg_database
    await quiesce_autovacuum(pg_database)


@pytest.fixture
async def repo(store_url: str) -> AsyncIterator[VerdictRepository]:
    engine = create_engine_for(store_url)
    try:
        yield VerdictRepository(engine)
    finally:
        await engine.dispose()


def history(count: int = 150, start: datetime = T0, prefix: str = "h") -> list[Verdict]:
    """``count`` verdicts of every (source, reason) pair, three identities and an unresolved
    session, 7 minutes apart with every fifth time repeated (ties must be ordered by id)."""
    pairs = itertools.cycle(PAIRS)
    actors = itertools.cycle((*IDENTITIES, None))
    out: list[Verdict] = []
    for n in range(count):
        source, reason = next(pairs)
        identity = next(actors)
        step = n - (n % 5 == 1)  # n = 1, 6, 11 ... share the time of the verdict before them
        overrides: dict[str, Any] = {"identity": identity}
        if identity is None:
            overrides.update(identity_kind=None, owner=None, purpose=None, principal=SHADOW)
        out.append(
            sample(
                source,
                reason,
                event_id=f"{prefix}-{n:05d}-5ca2-4d90-9f3c-{n:012d}",
                time=start + timedelta(minutes=7 * step),
                **overrides,
            )
        )
    return out


def newest_first(verdicts: Iterable[Verdict]) -> list[str]:
    return [v.verdict_id for v in sorted(verdicts, key=lambda v: (v.time, v.verdict_id), reverse=True)]


def ids(records: Iterable[dict[str, Any]]) -> list[str]:
    return [r["verdict_id"] for r in records]


async def all_pages(repo: VerdictRepository, limit: int, **filters: Any) -> list[dict[str, Any]]:
    records, cursor = await repo.search(limit=limit, **filters)
    pages = 1
    while cursor is not None:
        more, cursor = await repo.search(limit=limit, cursor=cursor, **filters)
        records += more
        pages += 1
        assert pages < 10_000
    return records


# -------------------------------------------------------------------------------------- writes


async def test_inserting_the_same_batch_twice_stores_each_verdict_once(repo: VerdictRepository) -> None:
    verdicts = history(120)
    batch = [serialize_verdict(v) for v in verdicts]
    assert await repo.insert_many(batch) == 120
    assert await repo.insert_many(batch) == 0
    # a batch that overlaps the stored ones, with a verdict twice in it and dicts beside bytes
    newer = history(10, start=T0 + timedelta(days=2), prefix="n")
    mixed: list[bytes | dict[str, Any]] = [*batch[:30], *(orjson.loads(serialize_verdict(v)) for v in newer)]
    mixed.append(serialize_verdict(newer[0]))
    assert await repo.insert_many(mixed) == 10
    assert await repo.count() == 130
    assert await repo.insert_many([]) == 0


async def test_stored_record_is_the_serialized_verdict(repo: VerdictRepository) -> None:
    verdict = sample("cloudtrail", "access_model_change", via=("system:serviceaccount:ci:deployer",))
    await repo.insert_many([serialize_verdict(verdict)])
    assert await repo.get(verdict.verdict_id) == orjson.loads(serialize_verdict(verdict))
    assert await repo.get("0" * 32) is None


async def test_one_event_id_from_two_sources_gives_two_records(repo: VerdictRepository) -> None:
    event_id = "8f0c5a1e-7d3b-4c1a-9e2f-6b7a8c9d0e1f"
    mesh = sample("mesh", "matched_entitlement", event_id=event_id, time=T0)
    k8s = sample("k8s_audit", "unapproved_system", event_id=event_id, time=T0 + timedelta(seconds=1))
    other = sample("k8s_audit", "matched_entitlement", event_id="another-audit-id", time=T0)
    await repo.insert_many([serialize_verdict(v) for v in (mesh, k8s, other)])
    assert ids(await repo.get_by_event(event_id)) == [k8s.verdict_id, mesh.verdict_id]
    assert await repo.get_by_event("no-such-event") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"verdict": "suspicious"}, "verdict/reason"),
        ({"reason": "matched_entitlement", "verdict": "drift"}, "verdict/reason"),
        ({"source": "syslog"}, "source/system"),
        ({"time": "2026-03-14 09:00:00"}, "offset"),
        ({"time": None}, "RFC 3339"),
        ({"baseline_version": "7"}, "baseline_version"),
        ({"severity": "urgent"}, "severity"),
        ({"verdict_id": ""}, "non-empty"),
    ],
)
async def test_a_record_that_is_not_a_verdict_is_refused_and_nothing_is_written(
    repo: VerdictRepository, change: dict[str, Any], message: str
) -> None:
    good = serialize_verdict(sample("mesh", "matched_entitlement"))
    bad = {**orjson.loads(serialize_verdict(sample("cloudtrail", "matched_entitlement"))), **change}
    with pytest.raises(BadVerdictRecord, match=message):
        await repo.insert_many([good, orjson.dumps(bad)])
    with pytest.raises(BadVerdictRecord, match="not JSON"):
        await repo.insert_many([b'{"verdict_id": "abc"'])
    missing = orjson.loads(good)
    del missing["event_id"]
    with pytest.raises(BadVerdictRecord, match="missing field 'event_id'"):
        await repo.insert_many([missing])
    assert await repo.count() == 0


async def test_nul_characters_are_replaced_not_refused(repo: VerdictRepository) -> None:
    # PostgreSQL text cannot hold NUL; an access-log path or user agent can carry one
    verdict = sample(
        "mesh", "allowed_beyond_baseline", resource="orders.svc/api/\x00x", user_agent="curl\x00"
    )
    assert await repo.insert_many([serialize_verdict(verdict)]) == 1
    stored = await repo.get(verdict.verdict_id)
    assert stored is not None
    assert stored["resource"] == "orders.svc/api/\ufffdx" and stored["user_agent"] == "curl\ufffd"


# -------------------------------------------------------------------------------------- search


async def test_search_without_filters_pages_through_everything_newest_first(repo: VerdictRepository) -> None:
    verdicts = history(150)
    await repo.insert_many([serialize_verdict(v) for v in verdicts])
    first, cursor = await repo.search(limit=20)
    assert ids(first) == newest_first(verdicts)[:20] and cursor is not None
    assert ids(await all_pages(repo, 20)) == newest_first(verdicts)
    assert ids(await all_pages(repo, 7)) == newest_first(verdicts)  # page ends inside runs of ties
    everything, last = await repo.search(limit=1000)
    assert ids(everything) == newest_first(verdicts) and last is None


@pytest.mark.parametrize(
    "filters",
    [
        {"verdict": "unauthorized_path"},
        {"verdict": "drift"},
        {"reason": "matched_entitlement"},
        {"verdict": "overprivileged", "reason": "allowed_beyond_baseline"},
        {"verdict": "expected", "reason": "unknown_identity"},  # a pair that cannot exist
        {"identity": "argocd"},
        {"source": "k8s_audit"},
        {"source": "mesh", "verdict": "unauthorized_path"},
        {"identity": "payments-api", "source": "cloudtrail", "verdict": "expected"},
        {"since": T0 + timedelta(hours=3)},
        {"until": T0 + timedelta(hours=5)},
        {"since": T0 + timedelta(hours=2), "until": T0 + timedelta(hours=9), "verdict": "overprivileged"},
        {"identity": "nobody"},
    ],
    ids=lambda f: "+".join(f"{k}={v:%H:%M}" if isinstance(v, datetime) else f"{k}={v}" for k, v in f.items()),
)
async def test_every_search_filter_matches_the_same_question_asked_in_python(
    repo: VerdictRepository, filters: dict[str, Any]
) -> None:
    verdicts = history(150)
    await repo.insert_many([serialize_verdict(v) for v in verdicts])

    def wanted(v: Verdict) -> bool:
        for key, value in filters.items():
            if key == "since" and v.time < value:
                return False
            if key == "until" and v.time >= value:
                return False
            if key not in ("since", "until") and getattr(v, key) != value:
                return False
        return True

    expected = newest_first(v for v in verdicts if wanted(v))
    assert ids(await all_pages(repo, 9, **filters)) == expected
    if filters != {"identity": "nobody"} and "unknown_identity" not in filters.values():
        assert expected, "the filter should select something"


async def test_since_is_inclusive_and_until_exclusive(repo: VerdictRepository) -> None:
    verdicts = history(10)
    await repo.insert_many([serialize_verdict(v) for v in verdicts])
    edge = verdicts[4].time
    at_edge = {v.verdict_id for v in verdicts if v.time == edge}
    since, _ = await repo.search(since=edge, until=edge + timedelta(microseconds=1))
    assert set(ids(since)) == at_edge
    until, _ = await repo.search(since=edge - timedelta(minutes=1), until=edge)
    assert not at_edge & set(ids(until))


async def test_paging_is_stable_while_newer_verdicts_arrive(repo: VerdictRepository) -> None:
    verdicts = history(150)
    await repo.insert_many([serialize_verdict(v) for v in verdicts])
    snapshot = newest_first(verdicts)
    arrivals = iter(
        [history(40, start=T0 + timedelta(days=3, minutes=n), prefix=f"new{n}") for n in range(60)]
    )
    seen: list[str] = []
    records, cursor = await repo.search(limit=10)
    seen += ids(records)
    while cursor is not None:
        # newer verdicts land between pages, and concurrently with the next page's query
        _, (records, cursor) = await asyncio.gather(
            repo.insert_many([serialize_verdict(v) for v in next(arrivals)]),
            repo.search(limit=10, cursor=cursor),
        )
        seen += ids(records)
    assert seen == snapshot
    assert await repo.count() > len(snapshot)
    # a first page asked for now starts with the newest arrivals, not with the snapshot
    fresh, _ = await repo.search(limit=10)
    assert ids(fresh)[0] not in snapshot


async def test_limits_and_cursors_are_validated(repo: VerdictRepository) -> None:
    for limit in (0, -1, 1001):
        with pytest.raises(ValueError, match="limit"):
            await repo.search(limit=limit)
    for cursor in ("", "not-base64!", "e30", "WzEsMl0", Page(T0, "x").encode()[:-3], "W10"):
        with pytest.raises(ValueError, match="bad cursor"):
            await repo.search(cursor=cursor)
    for made in (
        ["2026-03-14T09:00:00", "abc"],
        ["0001-01-01T00:00:00+05:00", "abc"],
        ["2026-03-14T09:00:00Z", 7],
    ):
        with pytest.raises(ValueError, match="bad cursor"):
            await repo.search(cursor=base64.urlsafe_b64encode(orjson.dumps(made)).decode())
    with pytest.raises(ValueError, match="timezone"):
        await repo.search(since=datetime(2026, 3, 14))


def test_cursor_round_trip_is_opaque_urlsafe_text() -> None:
    page = Page(datetime(2026, 3, 14, 9, 26, 53, 412377, tzinfo=UTC), "8f5c2cb142c1f944dabf4ba8d9f582c7")
    encoded = page.encode()
    assert Page.decode(encoded) == page
    assert set(encoded) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# ----------------------------------------------------------------------- responder's context


async def test_related_is_the_same_identity_within_fifteen_minutes_either_side(
    repo: VerdictRepository,
) -> None:
    at = T0 + timedelta(hours=6)
    event = sample(
        "cloudtrail", "allowed_beyond_baseline", event_id="centre", time=at, identity="payments-api"
    )

    def same(name: str, delta: timedelta, identity: str = "payments-api") -> Verdict:
        return sample("cloudtrail", "matched_entitlement", event_id=name, time=at + delta, identity=identity)

    inside = [
        same("early-edge", -timedelta(minutes=15)),
        same("late-edge", timedelta(minutes=15)),
        same("simultaneous", timedelta(0)),
        sample(
            "k8s_audit", "matched_entitlement", event_id="k8s-same-identity", time=at + timedelta(minutes=3)
        ),
    ]
    outside = [
        same("too-early", -timedelta(minutes=15, microseconds=1)),
        same("too-late", timedelta(minutes=15, seconds=1)),
        same("other-identity", timedelta(minutes=1), identity="argocd"),
        sample("cloudtrail", "unknown_identity", event_id="shadow", time=at, identity=None, principal=SHADOW),
    ]
    await repo.insert_many([serialize_verdict(v) for v in (event, *inside, *outside)])
    record = await repo.get(event.verdict_id)
    assert record is not None
    assert ids(await repo.related(record)) == newest_first(inside)
    assert ids(await repo.related(record, window=timedelta(minutes=3))) == newest_first(inside[2:])
    assert len(await repo.related(record, limit=2)) == 2


async def test_related_of_an_unresolved_actor_is_the_same_principal_session(repo: VerdictRepository) -> None:
    def shadow(name: str, minutes: int, principal: str = SHADOW) -> Verdict:
        return sample(
            "cloudtrail",
            "unknown_identity",
            event_id=name,
            time=T0 + timedelta(minutes=minutes),
            identity=None,
            identity_kind=None,
            owner=None,
            purpose=None,
            principal=principal,
        )

    event = shadow("centre", 0)
    same_session = [shadow("a", -10), shadow("b", 12)]
    other_session = shadow("c", 1, principal=SHADOW.replace("etl-9f2c", "etl-0000"))
    resolved = sample("cloudtrail", "matched_entitlement", event_id="d", time=T0, principal=SHADOW)
    await repo.insert_many([serialize_verdict(v) for v in (event, *same_session, other_session, resolved)])
    record = await repo.get(event.verdict_id)
    assert record is not None
    assert ids(await repo.related(record)) == newest_first(same_session)


async def test_counts_and_timeline_of_an_identity(repo: VerdictRepository) -> None:
    verdicts = history(150)
    await repo.insert_many([serialize_verdict(v) for v in verdicts])
    mine = [v for v in verdicts if v.identity == "argocd"]
    counts: dict[str, int] = {}
    for v in mine:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    assert await repo.counts_for_identity("argocd") == counts
    assert await repo.counts_for_identity("nobody") == {}

    page, cursor = await repo.timeline("argocd", limit=5)
    assert ids(page) == newest_first(mine)[:5] and cursor is not None
    rest: list[dict[str, Any]] = []
    while cursor is not None:
        more, cursor = await repo.timeline("argocd", limit=5, cursor=cursor)
        rest += more
    assert ids(page + rest) == newest_first(mine)
    since, until = T0 + timedelta(hours=4), T0 + timedelta(hours=10)
    window, _ = await repo.timeline("argocd", since=since, until=until, limit=100)
    assert ids(window) == newest_first(v for v in mine if since <= v.time < until)


async def test_usage_upsert_keeps_the_latest_time(repo: VerdictRepository) -> None:
    await repo.record_usage({("payments-api", "receipts-rw"): T0, ("payments-api", "orders-read"): T0})
    await repo.record_usage(
        {
            ("payments-api", "receipts-rw"): T0 - timedelta(days=1),  # older: ignored
            ("payments-api", "orders-read"): T0 + timedelta(hours=1),  # newer: kept
            ("argocd", "sync-apps"): T0,
        }
    )
    await repo.record_usage({})
    assert await repo.last_used("payments-api") == {
        "receipts-rw": T0,
        "orders-read": T0 + timedelta(hours=1),
    }
    assert await repo.last_used("argocd") == {"sync-apps": T0}
    assert await repo.last_used("nobody") == {}


# ---------------------------------------------------------------------- partitions, retention


async def _partition_of(url: str, verdict_id: str) -> str:
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT tableoid::regclass::text FROM verdicts WHERE verdict_id = :id"),
                {"id": verdict_id},
            )
            return str(found)
    finally:
        await engine.dispose()


async def test_postgres_daily_partitions_take_new_days_and_absorb_the_default(pg_database: str) -> None:
    engine = create_engine_for(pg_database)
    repo = VerdictRepository(engine)
    try:
        today = datetime(2026, 3, 14, 17, 30, tzinfo=UTC)
        assert await repo.ensure_partitions(2, now=today) == 3
        assert await repo.ensure_partitions(2, now=today) == 0  # idempotent
        current = sample("mesh", "matched_entitlement", event_id="now", time=today)
        last_day = sample(
            "mesh", "matched_entitlement", event_id="late", time=datetime(2026, 3, 16, 23, 59, tzinfo=UTC)
        )
        backfilled = history(20, start=datetime(2026, 2, 1, 23, 0, tzinfo=UTC), prefix="old")
        await repo.insert_many([serialize_verdict(v) for v in (current, last_day, *backfilled)])
        assert await _partition_of(pg_database, current.verdict_id) == "verdict_partitions.verdicts_p20260314"
        assert (
            await _partition_of(pg_database, last_day.verdict_id) == "verdict_partitions.verdicts_p20260316"
        )
        assert (
            await _partition_of(pg_database, backfilled[0].verdict_id)
            == "verdict_partitions.verdicts_default"
        )
        # backfilled history spans Feb 1 23:00 .. Feb 2 01:13: two days leave the default partition
        assert await repo.ensure_partitions(2, now=today) == 2
        assert (
            await _partition_of(pg_database, backfilled[0].verdict_id)
            == "verdict_partitions.verdicts_p20260201"
        )
        assert (
            await _partition_of(pg_database, backfilled[-1].verdict_id)
            == "verdict_partitions.verdicts_p20260202"
        )
        assert await repo.count() == 22
        # the moved rows are still found through every index and stay idempotent
        assert ids(await repo.get_by_event(backfilled[3].event_id)) == [backfilled[3].verdict_id]
        assert await repo.insert_many([serialize_verdict(v) for v in backfilled]) == 0
    finally:
        await engine.dispose()


async def test_postgres_retention_drops_whole_days(pg_database: str) -> None:
    engine = create_engine_for(pg_database)
    repo = VerdictRepository(engine)
    try:
        start = datetime(2026, 3, 1, tzinfo=UTC)
        await repo.ensure_partitions(9, now=start)
        days = [
            sample(
                "k8s_audit", "matched_entitlement", event_id=f"d{n}", time=start + timedelta(days=n, hours=12)
            )
            for n in range(10)
        ]
        stray = sample(
            "k8s_audit", "matched_entitlement", event_id="stray", time=datetime(2026, 1, 5, tzinfo=UTC)
        )
        await repo.insert_many([serialize_verdict(v) for v in (*days, stray)])
        # now = Mar 10 06:00, keep 3 days: cutoff Mar 7 06:00 -> Mar 1..6 go; Mar 7 holds newer rows and stays
        dropped = await repo.drop_partitions_older_than(3, now=datetime(2026, 3, 10, 6, 0, tzinfo=UTC))
        assert dropped == 6
        remaining, _ = await repo.search(limit=100)
        assert ids(remaining) == newest_first(days[6:])
        assert await repo.get(stray.verdict_id) is None  # old rows of the default partition are deleted
        assert await repo.drop_partitions_older_than(3, now=datetime(2026, 3, 10, 6, 0, tzinfo=UTC)) == 0
    finally:
        await engine.dispose()


async def test_sqlite_retention_deletes_rows(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    repo = VerdictRepository(engine)
    try:
        verdicts = history(40)  # T0 .. T0 + 4.5 h
        await repo.insert_many([serialize_verdict(v) for v in verdicts])
        assert await repo.ensure_partitions(3) == 0
        cutoff_now = T0 + timedelta(days=1, hours=2)
        assert await repo.drop_partitions_older_than(1, now=cutoff_now) == 0
        kept, _ = await repo.search(limit=100)
        assert ids(kept) == newest_first(v for v in verdicts if v.time >= T0 + timedelta(hours=2))
        with pytest.raises(ValueError, match="negative"):
            await repo.drop_partitions_older_than(-1)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------- replay --store


def _replay(url: str, inputs: list[Path], *extra: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "ENRICHER_DATABASE_URL": url}
    baseline = REPO / "tests" / "data" / "corpus_baseline.yaml"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "enricher.cli",
            "replay",
            "--baseline",
            str(baseline),
            "--store",
            *extra,
            *map(str, inputs),
        ],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


async def test_replay_store_backfills_the_corpus_once(store_url: str) -> None:
    inputs = sorted(
        p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".log", ".gz")
    )
    assert inputs, f"no corpus files under {CORPUS}"
    first = await asyncio.to_thread(_replay, store_url, inputs)
    assert first.returncode == 0, first.stderr.decode()
    printed = [orjson.loads(line) for line in first.stdout.splitlines()]
    assert printed, "the corpus should yield verdicts"
    unique = {r["verdict_id"]: r for r in printed}
    assert f"stored {len(unique)} new verdict(s) of {len(printed)}".encode() in first.stderr
    again = await asyncio.to_thread(_replay, store_url, inputs)
    assert again.returncode == 0 and f"stored 0 new verdict(s) of {len(printed)}".encode() in again.stderr
    engine = create_engine_for(store_url)
    try:
        repo = VerdictRepository(engine)
        assert await repo.count() == len(unique)
        some = printed[len(printed) // 2]
        assert await repo.get(some["verdict_id"]) == unique[some["verdict_id"]]
    finally:
        await engine.dispose()


def test_replay_store_fails_clearly_when_the_store_is_unreachable(tmp_path: Path) -> None:
    corpus_file = next(p for p in sorted((CORPUS / "cloudtrail").rglob("*.json")) if p.is_file())
    result = _replay("postgresql+asyncpg://enricher:enricher@127.0.0.1:9/enricher", [corpus_file])
    assert result.returncode == 2
    assert b"verdict store" in result.stderr and b"Traceback" not in result.stderr
