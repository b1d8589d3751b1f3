"""A small hand-written baseline and event factories shared by the rule tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from enricher.core import events as ev
from enricher.core.baseline import CompiledBaseline, compile_baseline
from enricher.core.events import NormalizedEvent
from enricher.core.identity import SessionLinks, resolve_identity
from enricher.core.model import BaselineDocument, BaselineSettings, Conditions, Entitlement, Identity
from enricher.core.rules import Context, Decision, decide

ACCOUNT = "111122223333"
PAYMENTS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/payments-api"
PAYMENTS_SA = "system:serviceaccount:payments:api"
PAYMENTS_SPIFFE = "spiffe://cluster.local/ns/payments/sa/api"
WHEN = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _payments() -> Identity:
    return Identity(
        id="payments-api",
        kind="workload",
        owner="team-payments",
        purpose="Serves the payments API; reads orders, writes receipts",
        aliases=(PAYMENTS_ROLE, PAYMENTS_SA, PAYMENTS_SPIFFE),
        entitlements=(
            Entitlement(
                "receipts-rw",
                "aws",
                ("s3:GetObject", "s3:PutObject"),
                ("arn:aws:s3:::receipts-prod/*",),
                approved_by="alice",
                ticket="SEC-123",
            ),
            Entitlement(
                "receipts-list",
                "aws",
                ("s3:ListBucket",),
                ("arn:aws:s3:::receipts-prod",),
                conditions=Conditions(source_cidrs=("10.0.0.0/8",)),
            ),
            Entitlement(
                "kms-jit",
                "aws",
                ("kms:Decrypt",),
                (f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*",),
                valid_from=datetime(2026, 1, 1, tzinfo=UTC),
                valid_until=datetime(2026, 1, 31, tzinfo=UTC),
            ),
            Entitlement(
                "own-policies", "aws", ("iam:AttachRolePolicy",), (f"arn:aws:iam::{ACCOUNT}:role/payments-*",)
            ),
            Entitlement("db-secret", "k8s", ("get",), ("payments/core/secrets/db-creds",)),
            Entitlement(
                "orders-read", "mesh", ("GET",), ("orders.orders.svc.cluster.local/api/v1/orders/*",)
            ),
        ),
    )


def build_baseline() -> CompiledBaseline:
    doc = BaselineDocument(
        identities=(
            _payments(),
            Identity(
                id="old-batch",
                kind="aws_role",
                owner="team-data",
                purpose="Nightly batch (retired)",
                status="decommissioned",
                aliases=(f"arn:aws:iam::{ACCOUNT}:role/old-batch",),
                entitlements=(Entitlement("batch-s3", "aws", ("s3:*",), ("arn:aws:s3:::batch/*",)),),
            ),
            Identity(
                id="ci-deployer",
                kind="ci_pipeline",
                owner="team-platform",
                purpose="Deploys services",
                aliases=(f"arn:aws:iam::{ACCOUNT}:role/ci-deployer",),
                entitlements=(Entitlement("deploy", "aws", ("lambda:UpdateFunctionCode",), ("*",)),),
            ),
            Identity(
                id="research-agent",
                kind="agent",
                owner="team-ml",
                purpose="Answers research questions",
                aliases=("arn:aws:iam::444455556666:role/research-agent",),
                entitlements=(Entitlement("invoke", "aws", ("bedrock:InvokeModel",), ("*",)),),
            ),
        ),
        settings=BaselineSettings(out_of_scope=("arn:aws:iam::*:role/aws-service-role/*",)),
    )
    return compile_baseline(doc, version=7)


def make_event(**overrides: object) -> NormalizedEvent:
    """A successful S3 read by payments-api in its own account; override what a case needs."""
    base = NormalizedEvent(
        source="cloudtrail",
        system="aws",
        event_id="e-1",
        time=WHEN,
        principal=PAYMENTS_ROLE,
        principal_kind=ev.AWS_ROLE,
        raw_principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/payments-api/i-0abc",
        action="s3:GetObject",
        resource="arn:aws:s3:::receipts-prod/2026/06/r1.json",
        outcome="success",
        account=ACCOUNT,
        region="us-east-1",
        source_ip="10.1.2.3",
        boundary=ACCOUNT,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def k8s_event(**overrides: object) -> NormalizedEvent:
    """A successful secret read by the payments service account."""
    fields: dict[str, object] = dict(
        source="k8s_audit",
        system="k8s",
        principal=PAYMENTS_SA,
        principal_kind=ev.K8S_SERVICE_ACCOUNT,
        raw_principal=PAYMENTS_SA,
        action="get",
        resource="payments/core/secrets/db-creds",
        namespace="payments",
        boundary="payments",
        account=None,
        region=None,
    )
    fields.update(overrides)
    return make_event(**fields)


def mesh_event(**overrides: object) -> NormalizedEvent:
    """A successful mesh call by the payments workload to the orders service."""
    fields: dict[str, object] = dict(
        source="mesh",
        system="mesh",
        principal=PAYMENTS_SPIFFE,
        principal_kind=ev.SPIFFE,
        raw_principal=PAYMENTS_SPIFFE,
        action="GET",
        resource="orders.orders.svc.cluster.local/api/v1/orders/42",
        boundary="orders.orders.svc.cluster.local",
        account=None,
        region=None,
    )
    fields.update(overrides)
    return make_event(**fields)


def judge(event: NormalizedEvent, baseline: CompiledBaseline) -> Decision:
    """Resolve and decide one in-scope event, as the pipeline does."""
    resolution = resolve_identity(event, baseline, SessionLinks())
    assert resolution.in_scope, resolution
    return decide(Context(event, resolution.identity, baseline, resolution.via))
