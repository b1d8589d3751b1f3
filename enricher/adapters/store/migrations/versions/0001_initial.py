"""Initial schema: baseline (identities, aliases, entitlements, settings, change log), verdicts,
entitlement usage, API tokens.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
NOW = sa.func.current_timestamp()


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("updated_at", TIMESTAMP, server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_identities"),
    )
    op.create_table(
        "identity_aliases",
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("identity_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"], ["identities.id"], name="fk_identity_aliases_identity_id_identities", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("alias", name="pk_identity_aliases"),
    )
    op.create_index("ix_identity_aliases_identity_id", "identity_aliases", ["identity_id"])
    op.create_table(
        "entitlements",
        sa.Column("identity_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("actions", JSON, nullable=False),
        sa.Column("resources", JSON, nullable=False),
        sa.Column("conditions", JSON, nullable=False),
        sa.Column("valid_from", TIMESTAMP, nullable=True),
        sa.Column("valid_until", TIMESTAMP, nullable=True),
        sa.Column("approved_by", sa.Text(), nullable=True),
        sa.Column("ticket", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["identity_id"], ["identities.id"], name="fk_entitlements_identity_id_identities", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("identity_id", "id", name="pk_entitlements"),
    )
    op.create_table(
        "baseline_settings",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_baseline_settings"),
    )
    op.create_table(
        "baseline_changes",
        sa.Column(
            "version", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("changed_at", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("change", JSON, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_baseline_changes"),
    )
    op.create_table(
        "verdicts",
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
        sa.Column("record", JSON, nullable=False),
        sa.PrimaryKeyConstraint("verdict_id", name="pk_verdicts"),
    )
    op.create_index("ix_verdicts_event_id", "verdicts", ["event_id"])
    op.create_index("ix_verdicts_identity_time", "verdicts", ["identity", "time"])
    op.create_index("ix_verdicts_verdict_reason_time", "verdicts", ["verdict", "reason", "time"])
    op.create_index("ix_verdicts_source_time", "verdicts", ["source", "time"])
    op.create_table(
        "entitlement_usage",
        sa.Column("identity_id", sa.Text(), nullable=False),
        sa.Column("entitlement_id", sa.Text(), nullable=False),
        sa.Column("last_used", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("identity_id", "entitlement_id", name="pk_entitlement_usage"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_table("entitlement_usage")
    op.drop_index("ix_verdicts_source_time", table_name="verdicts")
    op.drop_index("ix_verdicts_verdict_reason_time", table_name="verdicts")
    op.drop_index("ix_verdicts_identity_time", table_name="verdicts")
    op.drop_index("ix_verdicts_event_id", table_name="verdicts")
    op.drop_table("verdicts")
    op.drop_table("baseline_changes")
    op.drop_table("baseline_settings")
    op.drop_table("entitlements")
    op.drop_index("ix_identity_aliases_identity_id", table_name="identity_aliases")
    op.drop_table("identity_aliases")
    op.drop_table("identities")
