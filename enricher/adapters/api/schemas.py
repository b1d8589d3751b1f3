"""Request and response bodies of the HTTP API (pydantic models with OpenAPI examples).

The baseline models mirror the baseline file's shape (SPEC §5), so what ``GET
/baseline/identities/{id}`` returns can be edited and ``PUT`` back unchanged. Verdict records
are the stored verdict JSON (SPEC §7) passed through as they are; the model lists the known
fields for the documentation and lets any newer field through.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from enricher.core.baseline_file import format_timestamp
from enricher.core.model import Entitlement, Identity

_DATE_TIME: Final[JsonDict] = {"format": "date-time"}

VERDICT_EXAMPLE: Final[dict[str, Any]] = {
    "schema_version": "1.0",
    "verdict_id": "6c1f0f4f4ce1f0b4e2c1f2a7a3b0d9e1",
    "event_id": "b9c3d881-1e77-426c-abd3-5ca20d903380",
    "source": "cloudtrail",
    "system": "aws",
    "time": "2026-03-14T09:26:53Z",
    "verdict": "unauthorized_path",
    "reason": "unexpected_source",
    "severity": "high",
    "identity": "payments-api",
    "identity_kind": "workload",
    "owner": "team-payments",
    "purpose": "Serves the payments API; reads orders, writes receipts",
    "principal": "arn:aws:iam::111122223333:role/payments-api",
    "principal_kind": "aws_role",
    "session": "payments-api-7f9c4d",
    "via": [],
    "action": "s3:PutObject",
    "resource": "arn:aws:s3:::receipts-prod/2026/03/14/rcpt-000184.json",
    "outcome": "success",
    "account": "111122223333",
    "region": "eu-west-1",
    "cluster": None,
    "namespace": None,
    "source_ip": "203.0.113.45",
    "user_agent": "aws-sdk-java/2.25.6 Linux/5.10.205-195.807.amzn2.x86_64",
    "entitlement": "receipts-rw",
    "target": None,
    "target_identity": None,
    "actor_entitled": None,
    "explanation": "receipts-rw matches but requires source in 10.0.0.0/8; the call came from 203.0.113.45.",
    "baseline_version": 42,
    "standards": ["NIST-CSF-2.0:PR.AA-05", "NIST-CSF-2.0:DE.CM-03", "NIST-CSF-2.0:DE.AE-07"],
}

ENTITLEMENT_EXAMPLE: Final[dict[str, Any]] = {
    "id": "receipts-rw",
    "system": "aws",
    "actions": ["s3:GetObject", "s3:PutObject"],
    "resources": ["arn:aws:s3:::receipts-prod/*"],
    "conditions": {"source_cidrs": ["10.0.0.0/8"]},
    "valid_from": "2026-01-01T00:00:00Z",
    "valid_until": "2026-12-31T00:00:00Z",
    "approved_by": "alice",
    "ticket": "SEC-123",
}

IDENTITY_EXAMPLE: Final[dict[str, Any]] = {
    "id": "payments-api",
    "kind": "workload",
    "owner": "team-payments",
    "purpose": "Serves the payments API; reads orders, writes receipts",
    "status": "active",
    "aliases": [
        "arn:aws:iam::111122223333:role/payments-api",
        "system:serviceaccount:payments:api",
        "spiffe://cluster.local/ns/payments/sa/api",
    ],
    "entitlements": [ENTITLEMENT_EXAMPLE],
}


class ErrorBody(BaseModel):
    """Every error answer: a stable code, a sentence saying why, and the problems of invalid input."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"error": "invalid_token", "detail": "token 'ci-reader' was revoked at 2026-03-14T10:00:00Z"},
                {
                    "error": "invalid_request",
                    "detail": "1 problem in the request",
                    "problems": ["query.limit: Input should be less than or equal to 500"],
                },
            ]
        }
    )

    error: str = Field(description="Stable machine-readable code, e.g. invalid_token, not_found")
    detail: str = Field(description="What went wrong, for a person")
    problems: list[str] | None = Field(default=None, description="Each invalid input, where and why")


class VerdictRecord(BaseModel):
    """A stored verdict (SPEC §7): one flat object, every field present, unknown values null."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [VERDICT_EXAMPLE]})

    schema_version: str
    verdict_id: str
    event_id: str
    source: str = Field(description="cloudtrail | k8s_audit | mesh")
    system: str = Field(description="aws | k8s | mesh")
    time: str = Field(description="RFC 3339 UTC", json_schema_extra=_DATE_TIME)
    verdict: str = Field(description="expected | overprivileged | unauthorized_path | drift")
    reason: str
    severity: str
    identity: str | None = None
    identity_kind: str | None = None
    owner: str | None = None
    purpose: str | None = None
    principal: str | None = None
    principal_kind: str | None = None
    session: str | None = None
    via: list[str] = Field(default_factory=list)
    action: str | None = None
    resource: str | None = None
    outcome: str | None = None
    account: str | None = None
    region: str | None = None
    cluster: str | None = None
    namespace: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    entitlement: str | None = Field(default=None, description="Matched or nearest entitlement id")
    target: str | None = None
    target_identity: str | None = None
    actor_entitled: bool | None = None
    explanation: str = ""
    baseline_version: int = 0
    standards: list[str] = Field(default_factory=list)


class EntitlementRecord(BaseModel):
    """One approved grant, in the baseline file's shape."""

    model_config = ConfigDict(json_schema_extra={"examples": [ENTITLEMENT_EXAMPLE]})

    id: str
    system: str = Field(description="aws | k8s | mesh")
    actions: list[str]
    resources: list[str]
    conditions: dict[str, list[str]] = Field(
        default_factory=dict, description="Optional constraints: {source_cidrs: [CIDR, ...]}; {} for none"
    )
    valid_from: str | None = Field(default=None, json_schema_extra=_DATE_TIME)
    valid_until: str | None = Field(default=None, json_schema_extra=_DATE_TIME)
    approved_by: str | None = None
    ticket: str | None = None


class EntitlementUsage(EntitlementRecord):
    """An entitlement with the last time an event exercised it (null: never seen used)."""

    last_used: str | None = Field(default=None, json_schema_extra=_DATE_TIME)


class IdentityRecord(BaseModel):
    """A non-human identity in the baseline file's shape; also the body of ``PUT /baseline/identities/{id}``."""

    model_config = ConfigDict(json_schema_extra={"examples": [IDENTITY_EXAMPLE]})

    id: str
    kind: str = Field(
        description="aws_role | aws_user | k8s_service_account | workload | ci_pipeline | agent"
    )
    owner: str
    purpose: str
    status: str = Field(default="active", description="active | decommissioned")
    aliases: list[str] = Field(default_factory=list)
    entitlements: list[EntitlementRecord] = Field(default_factory=list)


class IdentityUsage(IdentityRecord):
    """An identity whose entitlements carry their last-used time."""

    entitlements: list[EntitlementUsage] = Field(default_factory=list)  # type: ignore[assignment]


class EventContext(BaseModel):
    """What an incident responder needs about one event."""

    event_id: str
    verdicts: list[VerdictRecord] = Field(description="The event's verdict(s), newest first")
    identity: IdentityRecord | None = Field(
        description="The identity as the baseline holds it now (null: unknown or no longer in the baseline)"
    )
    entitlement: EntitlementRecord | None = Field(
        description="The matched or nearest entitlement named by the verdict, as the baseline holds it now"
    )
    related: list[VerdictRecord] = Field(
        description="Other verdicts of the same identity or session within the window, newest first"
    )
    window_minutes: int
    baseline_version: int = Field(description="The baseline version in force now")


class VerdictPage(BaseModel):
    """One page of verdicts, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[VerdictRecord]
    next_cursor: str | None = Field(description="Null on the last page")


class IdentityDetail(BaseModel):
    """An identity's inventory record, the use of its entitlements and its verdict history in numbers."""

    id: str
    identity: IdentityUsage | None = Field(
        description="Null when the identity is no longer in the baseline but has verdicts"
    )
    verdict_counts: dict[str, int] = Field(
        description="Stored verdicts of this identity by kind", examples=[{"expected": 1520, "drift": 2}]
    )
    baseline_version: int


class Timeline(BaseModel):
    """An identity's verdicts, newest first, paged."""

    identity: str
    items: list[VerdictRecord]
    next_cursor: str | None


class BaselineSummary(BaseModel):
    """The baseline in force: its version and what it holds."""

    baseline_version: int
    changed_at: str | None = Field(json_schema_extra=_DATE_TIME)
    identities: int
    entitlements: int
    aliases: int
    identities_by_kind: dict[str, int]
    identities_by_status: dict[str, int]
    entitlements_by_system: dict[str, int]
    settings: dict[str, Any] = Field(examples=[{"out_of_scope": [], "mesh_require_identity": False}])


class IdentitySummary(BaseModel):
    """One line of the identity list."""

    id: str
    kind: str
    owner: str
    purpose: str
    status: str
    aliases: int
    entitlements: int


class IdentityPage(BaseModel):
    """A page of the identity list, by id."""

    baseline_version: int
    items: list[IdentitySummary]
    next_cursor: str | None


class ChangeOut(BaseModel):
    """The result of a baseline edit: the new version and what it touched."""

    baseline_version: int
    author: str
    upserted: list[str]
    deleted: list[str]
    identity: IdentityRecord | None = Field(default=None, description="The identity as stored (PUT only)")


class HistoryEntry(BaseModel):
    """One versioned baseline change: who, when, what."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "version": 43,
                    "author": "gitops-sync",
                    "changed_at": "2026-03-14T10:02:11Z",
                    "summary": "upsert identity payments-api",
                }
            ]
        },
    )

    version: int
    author: str
    changed_at: str | None = Field(default=None, json_schema_extra=_DATE_TIME)
    summary: str = ""


class History(BaseModel):
    """Baseline changes, newest first."""

    items: list[HistoryEntry]


class Health(BaseModel):
    """Liveness / readiness answer."""

    status: str = Field(examples=["ok"])
    reason: str | None = None
    revision: str | None = None


# ------------------------------------------------------------------------------------ conversions


def _time(when: datetime | None) -> str | None:
    return None if when is None else format_timestamp(when)


def entitlement_dict(ent: Entitlement) -> dict[str, Any]:
    """An entitlement as the API (and the baseline file) spells it."""
    cidrs = ent.conditions.source_cidrs
    return {
        "id": ent.id,
        "system": ent.system,
        "actions": list(ent.actions),
        "resources": list(ent.resources),
        "conditions": {"source_cidrs": list(cidrs)} if cidrs else {},
        "valid_from": _time(ent.valid_from),
        "valid_until": _time(ent.valid_until),
        "approved_by": ent.approved_by,
        "ticket": ent.ticket,
    }


def identity_dict(identity: Identity, last_used: dict[str, datetime] | None = None) -> dict[str, Any]:
    """An identity as the API spells it; with ``last_used``, each entitlement carries its time."""
    entitlements = [entitlement_dict(ent) for ent in identity.entitlements]
    if last_used is not None:
        for ent in entitlements:
            ent["last_used"] = _time(last_used.get(ent["id"]))
    return {
        "id": identity.id,
        "kind": identity.kind,
        "owner": identity.owner,
        "purpose": identity.purpose,
        "status": identity.status,
        "aliases": list(identity.aliases),
        "entitlements": entitlements,
    }
