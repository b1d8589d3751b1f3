"""The store's tables (SQLAlchemy 2 declarative), one schema for PostgreSQL and SQLite.

PostgreSQL is the source of truth in production; SQLite is the embedded zero-setup default. JSON
columns are JSONB on PostgreSQL, and every timestamp reads back as an aware UTC ``datetime`` on
both (SQLite has no time zone type, so :class:`UTCDateTime` stores UTC and re-attaches it).
The schema is created by the alembic migrations beside this module, never by ``create_all``
outside tests; a test checks that the migrations and these models agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so later migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid); PostgreSQL gets BIGSERIAL.
VersionType = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """``timestamptz`` on PostgreSQL; UTC text on SQLite. Naive input is rejected, output is aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps aware UTC times only")
        value = value.astimezone(UTC)
        # SQLite's DateTime stores the text as given; store UTC without the offset so text order is time order
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table; carries the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class IdentityRow(Base):
    """A non-human identity of the baseline."""

    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(Text, default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32), default="active")
    created_at: Mapped[datetime] = mapped_column(server_default=func.current_timestamp())
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.current_timestamp(), onupdate=func.current_timestamp()
    )


class IdentityAliasRow(Base):
    """A principal string (ARN, service account, SPIFFE id ...) that resolves to one identity."""

    __tablename__ = "identity_aliases"

    alias: Mapped[str] = mapped_column(Text, primary_key=True)
    identity_id: Mapped[str] = mapped_column(
        Text, ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )


class EntitlementRow(Base):
    """One approved grant of an identity; ``id`` is unique within the identity."""

    __tablename__ = "entitlements"

    identity_id: Mapped[str] = mapped_column(
        Text, ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    system: Mapped[str] = mapped_column(String(16))
    actions: Mapped[list[Any]]
    resources: Mapped[list[Any]]
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(Text)
    ticket: Mapped[str | None] = mapped_column(Text)


class BaselineSettingRow(Base):
    """One key of the baseline's ``settings`` block (``out_of_scope``, ``mesh_require_identity`` ...)."""

    __tablename__ = "baseline_settings"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType)


class BaselineChangeRow(Base):
    """The change log: each baseline change inserts one row; ``baseline_version`` = max(version)."""

    __tablename__ = "baseline_changes"

    version: Mapped[int] = mapped_column(VersionType, primary_key=True, autoincrement=True)
    author: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(server_default=func.current_timestamp())
    summary: Mapped[str] = mapped_column(Text, default="")
    change: Mapped[dict[str, Any]] = mapped_column(default=dict)


class VerdictRow(Base):
    """A stored verdict: the columns the API filters on, plus the whole record as JSON."""

    __tablename__ = "verdicts"
    __table_args__ = (
        Index("ix_verdicts_identity_time", "identity", "time"),
        Index("ix_verdicts_verdict_reason_time", "verdict", "reason", "time"),
        Index("ix_verdicts_source_time", "source", "time"),
    )

    verdict_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, index=True)
    source: Mapped[str] = mapped_column(String(16))
    system: Mapped[str] = mapped_column(String(16))
    time: Mapped[datetime]
    verdict: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    identity: Mapped[str | None] = mapped_column(Text)
    principal: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(Text)
    resource: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(16))
    baseline_version: Mapped[int] = mapped_column(BigInteger)
    record: Mapped[dict[str, Any]]


class EntitlementUsageRow(Base):
    """When an entitlement was last exercised; no foreign key, usage outlives baseline edits."""

    __tablename__ = "entitlement_usage"

    identity_id: Mapped[str] = mapped_column(Text, primary_key=True)
    entitlement_id: Mapped[str] = mapped_column(Text, primary_key=True)
    last_used: Mapped[datetime]


class ApiTokenRow(Base):
    """An API bearer token: only its hash is stored; revoked tokens stay for the audit trail."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(server_default=func.current_timestamp())
    revoked_at: Mapped[datetime | None]
