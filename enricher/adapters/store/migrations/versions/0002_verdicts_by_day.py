"""Verdicts partitioned by day on PostgreSQL (SQLite keeps the plain table).

``verdicts`` becomes ``PARTITION BY RANGE (time)``: a ``DEFAULT`` partition catches rows whose day
has no partition yet, and ``VerdictRepository.ensure_partitions`` creates the daily ones ahead of
time (and moves any day found in the default partition into its own). Retention then drops whole
days instead of deleting rows. A partitioned table's primary key must contain the partition key,
so it becomes ``(verdict_id, time)``: the verdict id is derived from source + event id and the time
is the event's, so a redelivered verdict has the same pair and ``ON CONFLICT`` still collapses it.

The partitions live in their own schema, ``verdict_partitions``, so the application schema holds
exactly the tables the models declare (schema comparisons and ``\\dt`` stay readable).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITION_SCHEMA = "verdict_partitions"
TIMESTAMP = sa.DateTime(timezone=True)
INDEXES = (
    ("ix_verdicts_event_id", ["event_id"]),
    ("ix_verdicts_identity_time", ["identity", "time"]),
    ("ix_verdicts_verdict_reason_time", ["verdict", "reason", "time"]),
    ("ix_verdicts_source_time", ["source", "time"]),
)
COLUMNS = (
    "verdict_id, event_id, source, system, time, verdict, reason, severity, identity, principal,"
    " action, resource, outcome, baseline_version, record"
)


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("verdict_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("time", TIMESTAMP, nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("identity", sa.Text(), nullable=True),
        sa.Column("principal", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("resource", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("baseline_version", sa.BigInteger(), nullable=False),
        sa.Column("record", postgresql.JSONB(), nullable=False),
    ]


def _drop_indexes(table: str) -> None:
    for name, _ in INDEXES:
        op.drop_index(name, table_name=table)


def _create_indexes() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "verdicts", columns)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _drop_indexes("verdicts")
    op.rename_table("verdicts", "verdicts_unpartitioned")
    op.execute(
        "ALTER TABLE verdicts_unpartitioned RENAME CONSTRAINT pk_verdicts TO pk_verdicts_unpartitioned"
    )
    op.create_table(
        "verdicts",
        *_columns(),
        sa.PrimaryKeyConstraint("verdict_id", "time", name="pk_verdicts"),
        postgresql_partition_by="RANGE (time)",
    )
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {PARTITION_SCHEMA}")
    op.execute(f"CREATE TABLE {PARTITION_SCHEMA}.verdicts_default PARTITION OF verdicts DEFAULT")
    _create_indexes()
    op.execute(f"INSERT INTO verdicts ({COLUMNS}) SELECT {COLUMNS} FROM verdicts_unpartitioned")
    op.drop_table("verdicts_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.rename_table("verdicts", "verdicts_partitioned")
    op.execute("ALTER TABLE verdicts_partitioned RENAME CONSTRAINT pk_verdicts TO pk_verdicts_partitioned")
    _drop_indexes("verdicts_partitioned")
    op.create_table("verdicts", *_columns(), sa.PrimaryKeyConstraint("verdict_id", name="pk_verdicts"))
    # one row per verdict id again: keep the newest time of any id that was stored twice
    op.execute(
        f"INSERT INTO verdicts ({COLUMNS}) SELECT DISTINCT ON (verdict_id) {COLUMNS}"
        " FROM verdicts_partitioned ORDER BY verdict_id, time DESC"
    )
    _create_indexes()
    op.drop_table("verdicts_partitioned")
    op.execute(f"DROP SCHEMA IF EXISTS {PARTITION_SCHEMA} CASCADE")
