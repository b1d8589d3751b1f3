"""Workers on the real broker and the real PostgreSQL store: verdicts, failover, baseline changes,
crashes. Each test runs ``enricher worker`` processes and compares what they wrote with what the
pure core gives for the same records."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter

import orjson
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from enricher.adapters.store.baseline_repo import BaselineRepository
from enricher.adapters.store.engine import create_engine_for
from enricher.core.model import BaselineDocument
from tests.integration.pipeline_harness import (
    GARBAGE,
    OutputReader,
    Topics,
    WorkerProcess,
    assigned_partitions,
    expected_outputs,
    make_topics,
    produce,
    synthetic_baseline,
    synthetic_input,
    worker_env,
)
from tests.integration.services import unique_name

pytestmark = pytest.mark.timeout(240)


async def import_baseline(url: str, doc: BaselineDocument) -> int:
    engine = create_engine_for(url)
    try:
        return (await BaselineRepository(engine).import_document(doc, author="test")).version
    finally:
        await engine.dispose()


def _ids(records: list[dict[str, object]]) -> Counter[str]:
    return Counter(str(r["verdict_id"]) for r in records)


async def test_records_of_each_kind_come_out_as_the_cores_verdicts_on_the_right_topics(
    kafka_bootstrap, kafka_topic_factory, pg_database, tmp_path
):
    doc = synthetic_baseline()
    version = await import_baseline(pg_database, doc)
    records = synthetic_input(doc, 2000)
    expected = expected_outputs(doc, version, records)
    topics = make_topics(kafka_topic_factory)
    worker = WorkerProcess(worker_env(kafka_bootstrap, pg_database, topics), tmp_path)
    verdicts = OutputReader(kafka_bootstrap, topics.verdicts)
    alerts = OutputReader(kafka_bootstrap, topics.alerts)
    ocsf = OutputReader(kafka_bootstrap, topics.ocsf)
    dead = OutputReader(kafka_bootstrap, topics.deadletter)
    try:
        worker.wait_ready()
        produce(kafka_bootstrap, topics, records)
        assert verdicts.until(lambda got: len(_ids(got)) >= len(expected), timeout=60), worker.log()[-2000:]
        alert_count = sum(1 for v, _ in expected.values() if v != "expected")
        assert alerts.until(lambda got: len(got) >= alert_count, timeout=30)
        assert ocsf.until(lambda got: len(got) >= alert_count, timeout=30)
        assert dead.until(lambda got: len(got) >= len(GARBAGE), timeout=30)
    finally:
        assert worker.terminate() == 0, worker.log()[-2000:]
        for reader in (verdicts, alerts, ocsf, dead):
            reader.close()
    got = {str(r["verdict_id"]): (r["verdict"], r["reason"]) for r in verdicts.records}
    assert got == expected
    assert all(r["baseline_version"] == version for r in verdicts.records)
    assert {str(r["verdict_id"]) for r in alerts.records} == {
        k for k, (v, _) in expected.items() if v != "expected"
    }
    assert {r["class_uid"] for r in ocsf.records} == {2004}
    reasons = {(r["source"], r["error"]) for r in dead.records}
    assert reasons == {
        ("cloudtrail", "invalid_json"),
        ("mesh", "not_utf8"),
        ("k8s_audit", "k8s_not_an_event"),
    }
    assert all(r["topic"] and r["offset"] is not None and r["data"] for r in dead.records)
    binary = next(r for r in dead.records if r["error"] == "not_utf8")
    assert binary["data_encoding"] == "base64"


async def test_two_workers_share_partitions_and_one_takes_over_when_the_other_stops(
    kafka_bootstrap, kafka_topic_factory, pg_database, tmp_path
):
    doc = synthetic_baseline()
    version = await import_baseline(pg_database, doc)
    first_half = synthetic_input(doc, 1500, seed=21)
    second_half = synthetic_input(doc, 1500, seed=22)
    expected = expected_outputs(doc, version, first_half + second_half)
    topics = make_topics(kafka_topic_factory, partitions=4)
    env = worker_env(kafka_bootstrap, pg_database, topics)
    a = WorkerProcess(env, tmp_path, "a")
    b = WorkerProcess(env, tmp_path, "b")
    verdicts = OutputReader(kafka_bootstrap, topics.verdicts)
    try:
        a.wait_ready()
        b.wait_ready()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (assigned_partitions(a) and assigned_partitions(b)):
            time.sleep(0.2)
        assert assigned_partitions(a) and assigned_partitions(b), "both workers must own partitions"
        produce(kafka_bootstrap, topics, first_half)
        assert verdicts.until(lambda got: len(_ids(got)) >= len(expected) // 3, timeout=60)
        assert a.terminate() == 0
        produce(kafka_bootstrap, topics, second_half)
        assert verdicts.until(lambda got: set(_ids(got)) >= set(expected), timeout=90), b.log()[-2000:]
        # after the hand-over b owns every partition of every raw topic
        assert {p for p in assigned_partitions(b) if p.startswith(topics.raw["mesh"])} == {
            f"{topics.raw['mesh']}[{p}]" for p in range(4)
        }
    finally:
        a.terminate()
        b.terminate()
        verdicts.close()
    assert set(_ids(verdicts.records)) == set(expected)


async def test_a_baseline_change_reaches_every_worker_within_two_seconds(
    kafka_bootstrap, kafka_topic_factory, pg_database, tmp_path
):
    doc = synthetic_baseline(identities=50)
    await import_baseline(pg_database, doc)
    probes = _one_probe_per_source(doc)
    targets = {_actor_identity(doc, raw) for raw in probes.values()}
    topics = make_topics(kafka_topic_factory, partitions=2)
    env = worker_env(kafka_bootstrap, pg_database, topics)
    workers = [WorkerProcess(env, tmp_path, name) for name in ("a", "b")]
    verdicts = OutputReader(kafka_bootstrap, topics.verdicts)
    sent: dict[int, str] = {}  # probe number -> "topic[partition]"
    first_new: dict[str, float] = {}  # "topic[partition]" -> when its first new-baseline verdict arrived
    try:
        for w in workers:
            w.wait_ready()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(assigned_partitions(w) for w in workers):
            time.sleep(0.2)
        owners = {p: w for w in workers for p in assigned_partitions(w)}
        changed = dataclasses.replace(
            doc,
            identities=tuple(
                dataclasses.replace(i, status="decommissioned") if i.id in targets else i
                for i in doc.identities
            ),
        )
        changed_at = time.time()
        new_version = await import_baseline(pg_database, changed)
        n = 0
        end = time.monotonic() + 10
        while time.monotonic() < end and len(first_new) < len(owners):
            for source, raw in probes.items():
                for partition in (0, 1):
                    n += 1
                    event = orjson.loads(raw)
                    _renumber(event, n)
                    produce(kafka_bootstrap, topics, [(source, orjson.dumps(event))], partition=partition)
                    sent[n] = f"{topics.raw[source]}[{partition}]"
            verdicts.poll(0.1)
            arrived = time.time()
            for r in verdicts.records:
                if r["baseline_version"] == new_version and r["reason"] == "decommissioned_identity":
                    first_new.setdefault(sent[_probe_number(r)], arrived)
    finally:
        for w in workers:
            w.terminate()
        verdicts.close()
    per_worker = {owners[p].log_path.name: t - changed_at for p, t in first_new.items()}
    assert len(per_worker) == 2, f"both workers must judge with the new baseline: {first_new} {owners}"
    assert max(per_worker.values()) <= 2.0, per_worker


def _one_probe_per_source(doc: BaselineDocument) -> dict[str, bytes]:
    probes: dict[str, bytes] = {}
    for source, raw in synthetic_input(doc, 200, seed=31):
        if source not in probes and raw not in GARBAGE and b"shadow" not in raw:
            probes[source] = raw
    return probes


def _actor_identity(doc: BaselineDocument, raw: bytes) -> str:
    text = raw.decode()
    for identity in doc.identities:
        if any(alias in text for alias in identity.aliases):
            return identity.id
    raise AssertionError("probe has no known actor")


def _renumber(event: dict[str, object], n: int) -> None:
    for key in ("eventID", "auditID", "request_id"):
        if key in event:
            event[key] = f"probe-{n}"


def _probe_number(record: dict[str, object]) -> int:
    return int(str(record["event_id"]).split("-")[-1].split(":")[0])


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_kill_9_mid_stream_then_restart_loses_nothing(
    guarantee, kafka_bootstrap, kafka_topic_factory, pg_database, tmp_path
):
    doc = synthetic_baseline()
    version = await import_baseline(pg_database, doc)
    records = synthetic_input(doc, 20_000, seed=41)
    expected = expected_outputs(doc, version, records)
    topics = make_topics(kafka_topic_factory)
    env = worker_env(
        kafka_bootstrap,
        pg_database,
        topics,
        ENRICHER_PROCESSING_GUARANTEE=guarantee,
        ENRICHER_WORKER_ID="w1",
        ENRICHER_BATCH_SIZE="500",
    )
    committed_only = guarantee == "exactly_once"
    verdicts = OutputReader(kafka_bootstrap, topics.verdicts, committed_only=committed_only)
    dead = OutputReader(kafka_bootstrap, topics.deadletter, committed_only=committed_only)
    first = WorkerProcess(env, tmp_path, "first")
    try:
        first.wait_ready()
        produce(kafka_bootstrap, topics, records)
        assert verdicts.until(lambda got: len(got) >= 2000, timeout=60)
        first.kill()
        second = WorkerProcess(env, tmp_path, "second")
        second.wait_ready()
        assert verdicts.until(lambda got: set(_ids(got)) >= set(expected), timeout=120), second.log()[-2000:]
        assert dead.until(lambda got: len(got) >= len(GARBAGE), timeout=30)
        second.terminate()
    finally:
        first.kill()
        verdicts.close()
        dead.close()
    counts = _ids(verdicts.records)
    assert set(counts) == set(expected)
    for record in verdicts.records:
        assert (record["verdict"], record["reason"]) == expected[str(record["verdict_id"])]
    if committed_only:
        assert max(counts.values()) == 1, "exactly-once: no verdict twice"
        assert len(dead.records) == len(GARBAGE)


async def test_the_worker_recovers_by_itself_when_the_broker_restarts(
    throwaway_broker, pg_database, tmp_path
):
    bootstrap = throwaway_broker.bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    topics = Topics(
        raw={s: unique_name(f"raw-{s}") for s in ("cloudtrail", "k8s_audit", "mesh")},
        verdicts=unique_name("verdicts"),
        alerts=unique_name("alerts"),
        ocsf=unique_name("ocsf"),
        deadletter=unique_name("dead"),
    )
    names = [*topics.raw.values(), topics.verdicts, topics.alerts, topics.ocsf, topics.deadletter]
    for future in admin.create_topics(
        [NewTopic(n, num_partitions=2, replication_factor=1) for n in names]
    ).values():
        future.result(timeout=30)
    doc = synthetic_baseline()
    version = await import_baseline(pg_database, doc)
    before = synthetic_input(doc, 2000, seed=51)
    after = synthetic_input(doc, 2000, seed=52)
    expected = expected_outputs(doc, version, before + after)
    worker = WorkerProcess(worker_env(bootstrap, pg_database, topics), tmp_path)
    try:
        worker.wait_ready()
        produce(bootstrap, topics, before)
        verdicts = OutputReader(bootstrap, topics.verdicts)
        assert verdicts.until(lambda got: len(got) >= 500, timeout=60)
        verdicts.close()
        throwaway_broker.stop()
        time.sleep(2)
        throwaway_broker.start()
        produce(bootstrap, topics, after)
        verdicts = OutputReader(bootstrap, topics.verdicts)
        assert verdicts.until(lambda got: set(_ids(got)) >= set(expected), timeout=120), worker.log()[-3000:]
        verdicts.close()
        assert worker.proc.poll() is None, "the worker must survive the outage"
    finally:
        worker.terminate()


async def test_the_leader_worker_emits_unused_entitlement_findings(
    kafka_bootstrap, kafka_topic_factory, pg_database, tmp_path
):
    import datetime as dt

    from sqlalchemy import update

    from enricher.adapters.store.models import BaselineChangeRow

    doc = synthetic_baseline(identities=20, per_identity=3)
    await import_baseline(pg_database, doc)
    engine = create_engine_for(pg_database)
    async with engine.begin() as conn:  # the baseline has been observed for 90 days
        await conn.execute(
            update(BaselineChangeRow).values(changed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=90))
        )
    await engine.dispose()
    active = sum(
        1
        for i in doc.identities
        if i.status == "active"
        for e in i.entitlements
        if e.valid_until is None or e.valid_until > dt.datetime.now(dt.UTC)
    )
    topics = make_topics(kafka_topic_factory, partitions=1)
    env = worker_env(kafka_bootstrap, pg_database, topics, ENRICHER_UNUSED_CHECK_INTERVAL_S="1")
    worker = WorkerProcess(env, tmp_path)
    alerts = OutputReader(kafka_bootstrap, topics.alerts)
    try:
        worker.wait_ready()
        assert alerts.until(lambda got: len(_ids(got)) >= active, timeout=30), worker.log()[-2000:]
    finally:
        worker.terminate()
        alerts.close()
    reasons = {(r["verdict"], r["reason"]) for r in alerts.records}
    assert reasons == {("overprivileged", "unused_entitlement")}
    assert len(_ids(alerts.records)) == active  # once per entitlement per period, however often it runs
