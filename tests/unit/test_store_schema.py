"""The store schema on embedded SQLite: migration to head, aware UTC times, JSON columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from enricher.adapters.store.engine import create_engine_for, session_factory
from enricher.adapters.store.migrate import current_revision, head_revision, upgrade_to_head
from enricher.adapters.store.models import EntitlementUsageRow, VerdictRow

CET = timezone(timedelta(hours=1))


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    upgrade_to_head(url)
    return url


async def test_times_come_back_aware_utc_and_order_correctly(url: str) -> None:
    engine = create_engine_for(url)
    try:
        async with session_factory(engine).begin() as session:
            # 10:30 at +01:00 is 09:30 UTC: earlier than 09:45 UTC although its local digits are larger
            session.add(
                EntitlementUsageRow(
                    identity_id="a", entitlement_id="late", last_used=datetime(2026, 5, 1, 9, 45, tzinfo=UTC)
                )
            )
            session.add(
                EntitlementUsageRow(
                    identity_id="a",
                    entitlement_id="early",
                    last_used=datetime(2026, 5, 1, 10, 30, tzinfo=CET),
                )
            )
        async with session_factory(engine)() as session:
            rows = (
                (await session.execute(select(EntitlementUsageRow).order_by(EntitlementUsageRow.last_used)))
                .scalars()
                .all()
            )
        assert [r.entitlement_id for r in rows] == ["early", "late"]
        assert rows[0].last_used == datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
        assert all(r.last_used.tzinfo is UTC for r in rows)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_naive_datetimes_are_refused(url: str) -> None:
    engine = create_engine_for(url)
    try:
        with pytest.raises(StatementError, match="naive datetime"):
            async with session_factory(engine).begin() as session:
                session.add(
                    EntitlementUsageRow(identity_id="a", entitlement_id="e", last_used=datetime(2026, 5, 1))
                )
    finally:
        await engine.dispose()


async def test_verdict_record_json_keeps_nested_values(url: str) -> None:
    record = {
        "verdict": "drift",
        "via": ["system:serviceaccount:ci:deployer"],
        "standards": ["NHI7", "PR.AA-05"],
        "n": 3,
    }
    engine = create_engine_for(url)
    try:
        async with session_factory(engine).begin() as session:
            session.add(
                VerdictRow(
                    verdict_id="v1",
                    event_id="e1",
                    source="cloudtrail",
                    system="aws",
                    time=datetime(2026, 5, 1, tzinfo=UTC),
                    verdict="drift",
                    reason="access_model_change",
                    severity="high",
                    identity=None,
                    principal="arn:aws:iam::111122223333:user/ci",
                    action="iam:CreateAccessKey",
                    resource="arn:aws:iam::111122223333:user/ci",
                    outcome="success",
                    baseline_version=4,
                    record=record,
                )
            )
        async with session_factory(engine)() as session:
            stored = await session.get(VerdictRow, "v1")
        assert stored is not None and stored.record == record and stored.identity is None
    finally:
        await engine.dispose()
