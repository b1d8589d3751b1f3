"""The baseline store on real PostgreSQL and on embedded SQLite: every test runs on both.

Covers the round trip file -> store -> snapshot, versioning (one bump per change, none for a
no-op), what ``changes_since`` hands the workers, deletes, settings, validation that refuses a
write without touching the store, concurrent writers and the change history.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from enricher.adapters.store.baseline_repo import BaselineRepository, ChangeResult, canonical_identity
from enricher.adapters.store.engine import create_engine_for
from enricher.adapters.store.models import EntitlementRow, IdentityAliasRow
from enricher.core.baseline_file import load_baseline_file
from enricher.core.model import BaselineDocument, BaselineSettings, Conditions, Entitlement, Identity
from enricher.core.synthetic import generate_baseline
from enricher.errors import BaselineError

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data"
VALID = DATA / "baselines" / "valid.yaml"
CORPUS_BASELINE = DATA / "corpus_baseline.yaml"


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh store migrated to head: a private PostgreSQL database, or a SQLite file."""
    return str(request.getfixturevalue("pg_database" if request.param == "postgresql" else "sqlite_url"))


@pytest.fixture
async def repo(store_url: str) -> AsyncIterator[BaselineRepository]:
    engine = create_engine_for(store_url)
    try:
        yield BaselineRepository(engine)
    finally:
        await engine.dispose()


def canonical(doc: BaselineDocument) -> tuple[Identity, ...]:
    """The identities as the store returns them: by id, each in canonical form."""
    return tuple(sorted((canonical_identity(i) for i in doc.identities), key=lambda i: i.id))


def both_files() -> BaselineDocument:
    """Every field of the format (valid.yaml) plus the corpus baseline's real principals."""
    valid, corpus = load_baseline_file(VALID), load_baseline_file(CORPUS_BASELINE)
    return BaselineDocument(identities=valid.identities + corpus.identities, settings=valid.settings)


def with_entitlement(identity: Identity, index: int, **changes: object) -> Identity:
    ents = list(identity.entitlements)
    ents[index] = dataclasses.replace(ents[index], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(identity, entitlements=tuple(ents))


# ------------------------------------------------------------------------------------ snapshots


async def test_empty_store(repo: BaselineRepository) -> None:
    assert await repo.current_version() == 0
    assert await repo.version_info() == (0, None)
    doc, version = await repo.load_snapshot()
    assert (doc.identities, doc.settings, version) == ((), BaselineSettings(), 0)
    delta = await repo.changes_since(0)
    assert (delta.version, delta.upserts, delta.deletes, delta.settings) == (0, (), (), None)
    assert await repo.history() == []


async def test_import_then_snapshot_round_trip(repo: BaselineRepository) -> None:
    doc = both_files()
    before = datetime.now(UTC) - timedelta(minutes=5)

    result = await repo.import_document(doc, author="alice", summary="first import")

    assert result == ChangeResult(1, tuple(sorted(i.id for i in doc.identities)), (), True)
    snapshot, version = await repo.load_snapshot()
    assert version == 1
    assert snapshot.identities == canonical(doc)
    assert snapshot.settings == doc.settings
    # the fields that need care on the way through: aware UTC times, CIDR conditions, quoted numbers
    payments = next(i for i in snapshot.identities if i.id == "payments-api")
    receipts = next(e for e in payments.entitlements if e.id == "receipts-rw")
    assert receipts.valid_until == datetime(2026, 12, 30, 22, 0, tzinfo=UTC)
    assert receipts.valid_from is not None and receipts.valid_from.tzinfo is not None
    assert receipts.conditions == Conditions(("10.0.0.0/8", "2001:db8::/32"))
    assert next(e for e in payments.entitlements if e.id == "orders").ticket == "4711"
    version_now, changed_at = await repo.version_info()
    assert version_now == 1 and changed_at is not None and changed_at >= before
    assert await repo.get_identity("payments-api") == payments
    assert await repo.get_identity("nobody") is None


async def test_synthetic_baseline_round_trip(repo: BaselineRepository) -> None:
    # every identity kind, JIT windows, CIDR conditions, decommissioned identities, many rows
    doc = generate_baseline(300, 6, seed=11)
    await repo.import_document(doc, author="bench")
    snapshot, version = await repo.load_snapshot()
    assert version == 1
    assert snapshot.identities == canonical(doc)
    assert sum(len(i.entitlements) for i in snapshot.identities) == 1800


async def test_identical_import_does_not_bump_the_version(repo: BaselineRepository) -> None:
    doc = both_files()
    await repo.import_document(doc, author="alice")
    # the same content in another order is the same baseline
    shuffled = BaselineDocument(
        identities=tuple(
            dataclasses.replace(i, aliases=i.aliases[::-1], entitlements=i.entitlements[::-1])
            for i in reversed(doc.identities)
        ),
        settings=doc.settings,
    )

    again = await repo.import_document(doc, author="bob")
    reordered = await repo.import_document(shuffled, author="carol")

    assert again == ChangeResult(1, (), (), False)
    assert reordered == ChangeResult(1, (), (), False)
    assert await repo.current_version() == 1
    assert [row["author"] for row in await repo.history()] == ["alice"]


# ------------------------------------------------------------------------------------- changes


async def test_one_changed_entitlement_bumps_the_version_and_only_that_identity_is_in_the_delta(
    repo: BaselineRepository,
) -> None:
    doc = both_files()
    await repo.import_document(doc, author="alice")
    target = next(i for i in doc.identities if i.id == "payments-api")
    index = next(n for n, e in enumerate(target.entitlements) if e.id == "describe")
    changed = with_entitlement(target, index, actions=("ec2:Describe*", "ec2:GetConsoleOutput"))
    edited = BaselineDocument(
        identities=tuple(changed if i.id == target.id else i for i in doc.identities), settings=doc.settings
    )

    result = await repo.import_document(edited, author="bob", summary="widen describe")

    assert result == ChangeResult(2, ("payments-api",), (), False)
    delta = await repo.changes_since(1)
    assert delta.version == 2
    assert delta.upserts == (canonical_identity(changed),)
    assert (delta.deletes, delta.settings) == ((), None)
    assert (await repo.changes_since(2)).upserts == ()
    assert len((await repo.changes_since(0)).upserts) == len(doc.identities)
    snapshot, version = await repo.load_snapshot()
    assert (snapshot.identities, version) == (canonical(edited), 2)


async def test_identity_absent_from_the_file_is_deleted(repo: BaselineRepository, store_url: str) -> None:
    doc = both_files()
    await repo.import_document(doc, author="alice")
    gone = next(i for i in doc.identities if i.id == "payments-api")
    smaller = BaselineDocument(
        identities=tuple(i for i in doc.identities if i.id != gone.id), settings=doc.settings
    )

    result = await repo.import_document(smaller, author="alice")

    assert result == ChangeResult(2, (), ("payments-api",), False)
    assert await repo.get_identity("payments-api") is None
    delta = await repo.changes_since(1)
    assert (delta.upserts, delta.deletes) == ((), ("payments-api",))
    # its aliases and entitlements went with it: another identity may now take the aliases
    engine = create_engine_for(store_url)
    try:
        async with engine.connect() as conn:
            owners = {row.identity_id for row in await conn.execute(select(IdentityAliasRow.identity_id))} | {
                row.identity_id for row in await conn.execute(select(EntitlementRow.identity_id))
            }
    finally:
        await engine.dispose()
    assert "payments-api" not in owners
    heir = dataclasses.replace(gone, id="payments-api-v2")
    assert (await repo.upsert_identity(heir, author="alice")).upserted == ("payments-api-v2",)


async def test_delete_identity(repo: BaselineRepository) -> None:
    await repo.import_document(both_files(), author="alice")

    result = await repo.delete_identity("old-batch", author="bob")

    assert result == ChangeResult(2, (), ("old-batch",), False)
    assert await repo.get_identity("old-batch") is None
    with pytest.raises(LookupError):
        await repo.delete_identity("old-batch", author="bob")
    assert await repo.current_version() == 2
    history = await repo.history(limit=1)
    assert history[0]["author"] == "bob"
    assert history[0]["change"] == {"upserted": [], "deleted": ["old-batch"], "settings": False}


async def test_settings_change_alone(repo: BaselineRepository) -> None:
    doc = both_files()
    await repo.import_document(doc, author="alice")
    stricter = BaselineSettings(
        out_of_scope=("arn:aws:iam::*:role/aws-service-role/*", "system:node:*"),
        mesh_require_identity=False,
        unused_after_days=7,
    )

    result = await repo.import_document(dataclasses.replace(doc, settings=stricter), author="alice")

    assert result == ChangeResult(2, (), (), True)
    delta = await repo.changes_since(1)
    assert (delta.upserts, delta.deletes, delta.settings) == ((), (), stricter)
    snapshot, _ = await repo.load_snapshot()
    assert snapshot.settings == stricter


async def test_upsert_identity_creates_replaces_and_skips_no_ops(repo: BaselineRepository) -> None:
    await repo.import_document(both_files(), author="alice")
    agent = Identity(
        id="support-agent",
        kind="agent",
        owner="team-support",
        purpose="Answers tickets; reads the knowledge base",
        aliases=("spiffe://cluster.local/ns/support/sa/agent", "system:serviceaccount:support:agent"),
        entitlements=(
            Entitlement(
                "kb-read",
                "mesh",
                ("GET",),
                ("kb.support.svc.cluster.local/*",),
                valid_until=datetime(2027, 1, 1, 9, tzinfo=timezone(timedelta(hours=2))),
            ),
        ),
    )

    created = await repo.upsert_identity(agent, author="bob")
    same = await repo.upsert_identity(agent, author="bob")
    retired = await repo.upsert_identity(dataclasses.replace(agent, status="decommissioned"), author="carol")

    assert (created.version, created.upserted, same, retired.version) == (
        2,
        ("support-agent",),
        ChangeResult(2, (), (), False),
        3,
    )
    stored = await repo.get_identity("support-agent")
    assert stored is not None and stored.status == "decommissioned"
    assert stored.entitlements[0].valid_until == datetime(2027, 1, 1, 7, tzinfo=UTC)
    assert [u.id for u in (await repo.changes_since(1)).upserts] == ["support-agent"]


async def test_changes_since_collapses_several_changes(repo: BaselineRepository) -> None:
    await repo.import_document(both_files(), author="alice")
    ci = await repo.get_identity("ci-runner")
    assert ci is not None
    await repo.upsert_identity(dataclasses.replace(ci, owner="team-build"), author="a")
    await repo.upsert_identity(dataclasses.replace(ci, owner="team-release"), author="b")
    await repo.delete_identity("old-batch", author="c")
    waf = await repo.get_identity("waf-role")
    assert waf is not None
    await repo.delete_identity("waf-role", author="d")
    await repo.upsert_identity(waf, author="e")  # deleted, then back

    delta = await repo.changes_since(1)

    assert delta.version == 6
    assert [(u.id, u.owner) for u in delta.upserts] == [
        ("ci-runner", "team-release"),
        ("waf-role", waf.owner),
    ]
    assert delta.deletes == ("old-batch",)
    assert delta.settings is None


# ---------------------------------------------------------------------------------- validation


async def test_alias_collision_is_refused_and_nothing_is_written(repo: BaselineRepository) -> None:
    doc = both_files()
    await repo.import_document(doc, author="alice")
    before, _ = await repo.load_snapshot()
    # the same SPIFFE id without its scheme is the same principal
    thief = Identity(
        id="thief",
        kind="workload",
        owner="team-x",
        purpose="Claims another identity's alias",
        aliases=("cluster.local/ns/payments/sa/api",),
    )

    with pytest.raises(BaselineError) as refused:
        await repo.upsert_identity(thief, author="mallory")

    assert [p.line for p in refused.value.problems] == [0]
    assert "already listed by identity 'payments-api'" in refused.value.problems[0].message
    clash = BaselineDocument(identities=(*doc.identities, thief), settings=doc.settings)
    with pytest.raises(BaselineError, match="already listed by identity 'payments-api'"):
        await repo.import_document(clash, author="mallory")
    after, version = await repo.load_snapshot()
    assert (after, version) == (before, 1)
    assert await repo.get_identity("thief") is None
    assert len(await repo.history()) == 1


async def test_invalid_identity_is_refused(repo: BaselineRepository) -> None:
    bad = Identity(
        id="bad",
        kind="robot",
        owner="team-x",
        purpose="Not a kind",
        entitlements=(Entitlement("e", "aws", ("s3GetObject",), ("bucket",)),),
    )
    with pytest.raises(BaselineError) as refused:
        await repo.upsert_identity(bad, author="mallory")
    messages = " | ".join(p.message for p in refused.value.problems)
    assert "kind 'robot'" in messages and "SERVICE:ACTION" in messages and "must be an ARN" in messages
    assert await repo.current_version() == 0


# ------------------------------------------------------------------------- concurrency, history


async def test_concurrent_writers_get_distinct_consecutive_versions(repo: BaselineRepository) -> None:
    await repo.import_document(both_files(), author="alice")
    identities = [
        Identity(
            id=f"job-{n}",
            kind="ci_pipeline",
            owner="team-ci",
            purpose="Nightly job",
            aliases=(f"arn:aws:iam::123456789012:role/job-{n}",),
        )
        for n in range(6)
    ]

    results = await asyncio.gather(
        *(repo.upsert_identity(i, author=f"w{n}") for n, i in enumerate(identities))
    )

    assert sorted(r.version for r in results) == list(range(2, 8))
    delta = await repo.changes_since(1)
    assert sorted(u.id for u in delta.upserts) == [i.id for i in identities]


async def test_history_newest_first_and_per_identity(repo: BaselineRepository, store_url: str) -> None:
    doc = both_files()
    await repo.import_document(doc, author="alice", summary="import baseline.yaml")
    ci = await repo.get_identity("ci-runner")
    assert ci is not None
    await repo.upsert_identity(dataclasses.replace(ci, purpose="Builds, tests and deploys"), author="bob")
    await repo.delete_identity("old-batch", author="carol")

    everything = await repo.history()
    only_ci = await repo.history(identity_id="ci-runner")
    newest = await repo.history(limit=1)

    assert [row["version"] for row in everything] == [3, 2, 1]
    assert [row["author"] for row in everything] == ["carol", "bob", "alice"]
    assert everything[2]["summary"] == "import baseline.yaml"
    assert all(isinstance(row["changed_at"], datetime) for row in everything)
    assert [row["version"] for row in only_ci] == [2, 1]
    assert [row["version"] for row in await repo.history(identity_id="old-batch")] == [3, 1]
    assert await repo.history(identity_id="nobody") == []
    assert [row["version"] for row in newest] == [3]
    engine = create_engine_for(store_url)
    try:
        async with engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(EntitlementRow))).scalar_one()
    finally:
        await engine.dispose()
    assert count == sum(len(i.entitlements) for i in doc.identities)
