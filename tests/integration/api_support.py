"""Shared pieces of the HTTP API tests: a seeded store on PostgreSQL and SQLite, tokens, a client.

The app is driven in-process through ``httpx.ASGITransport`` against ``create_app``; the store is
real (a fresh PostgreSQL database or SQLite file per test, from the fixtures in conftest.py).
Test modules import the fixtures they use from here (``*_fixture``; pytest knows them by ``name``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from enricher.adapters.api import create_app
from enricher.adapters.api.context import ApiContext
from enricher.adapters.metrics import Metrics
from enricher.adapters.store.baseline_repo import BaselineRepository
from enricher.adapters.store.verdict_repo import VerdictRepository
from enricher.config import Settings
from enricher.core.baseline_file import load_baseline_text
from enricher.core.pipeline import serialize_verdict
from enricher.core.verdict import Verdict
from tests.unit.verdict_samples import T0, all_samples, sample

SEED_AUTHOR = "seed-import"

# The identities the verdict samples name, with the entitlement ids they cite.
BASELINE_YAML = """\
version: 1
identities:
  - id: payments-api
    kind: workload
    owner: team-payments
    purpose: Serves the payments API; reads orders, writes receipts
    aliases:
      - arn:aws:iam::111122223333:role/payments-api
      - system:serviceaccount:payments:api
      - spiffe://cluster.local/ns/payments/sa/api
    entitlements:
      - id: receipts-rw
        system: aws
        actions: [s3:GetObject, s3:PutObject]
        resources: ["arn:aws:s3:::receipts-prod/*"]
        conditions: {source_cidrs: [10.0.0.0/8]}
        valid_from: 2026-01-01T00:00:00Z
        valid_until: 2026-12-31T00:00:00Z
        approved_by: alice
        ticket: SEC-123
      - id: payments-config-read
        system: k8s
        actions: [get, list, watch]
        resources: [payments/core/configmaps/*]
        approved_by: bob
        ticket: SEC-126
      - id: orders-read
        system: mesh
        actions: [GET]
        resources: [orders.orders.svc.cluster.local/api/v1/orders/*]
  - id: argocd
    kind: workload
    owner: team-platform
    purpose: Syncs cluster state from the gitops repository
    aliases: [system:serviceaccount:argocd:argocd-application-controller]
    entitlements:
      - id: gitops-rbac-write
        system: k8s
        actions: [create, update, patch, delete]
        resources: ["*/rbac.authorization.k8s.io/*"]
  - id: report-exporter
    kind: k8s_service_account
    owner: team-analytics
    purpose: Exported nightly reports to S3; replaced by the warehouse job
    status: decommissioned
    aliases:
      - arn:aws:iam::111122223333:user/report-exporter
      - system:serviceaccount:batch:report-exporter
    entitlements: []
  - id: support-triage-agent
    kind: agent
    owner: team-support-ai
    purpose: Summarises support tickets with a hosted model
    aliases: [arn:aws:iam::111122223333:role/support-triage-agent]
    entitlements:
      - id: bedrock-invoke-haiku
        system: aws
        actions: [bedrock:InvokeModel]
        resources: ["arn:aws:bedrock:*::foundation-model/anthropic.claude-3-haiku-*"]
settings:
  out_of_scope: ["arn:aws:iam::*:role/aws-service-role/*"]
"""

# token role -> (name, scopes); "revoked" is revoked right after creation
TOKEN_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "read": ("responder", ("read",)),
    "write": ("gitops-sync", ("baseline:write",)),
    "both": ("admin", ("read", "baseline:write")),
    "revoked": ("former-contractor", ("read", "baseline:write")),
}


@dataclass
class Api:
    """A client on a fresh app over a seeded store, and a token for each role."""

    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[str, str]
    url: str

    @property
    def context(self) -> ApiContext:
        context: ApiContext = self.app.state.context
        return context

    def auth(self, role: str = "read") -> dict[str, str]:
        """The Authorization header of the token of ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def get(self, path: str, role: str = "read", **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.auth(role), params=params or None)

    async def store(self, verdicts: Iterable[Verdict]) -> int:
        """Insert verdicts as the sink would (their serialized JSON)."""
        return await VerdictRepository(self.context.engine).insert_many(
            [serialize_verdict(v) for v in verdicts]
        )


@pytest.fixture(name="store_url", params=["postgresql", "sqlite"])
def store_url_fixture(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated store on each database."""
    return str(request.getfixturevalue("pg_database" if request.param == "postgresql" else "sqlite_url"))


async def open_api(url: str, *, seed: bool = True, metrics: Metrics | None = None) -> Api:
    """An app over ``url`` with one token per role; with ``seed``, the baseline and sample verdicts."""
    app = create_app(Settings(database_url=url), metrics=metrics)
    context: ApiContext = app.state.context
    tokens = {}
    for role, (name, scopes) in TOKEN_ROLES.items():
        tokens[role] = await context.tokens.create(name, scopes)
    await context.tokens.revoke(TOKEN_ROLES["revoked"][0])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://enricher.test")
    api = Api(app, client, tokens, url)
    if seed:
        await BaselineRepository(context.engine).import_document(
            load_baseline_text(BASELINE_YAML), author=SEED_AUTHOR, summary="seed"
        )
        await api.store(all_samples())
    return api


async def close_api(api: Api) -> None:
    await api.client.aclose()
    await api.context.engine.dispose()


@pytest.fixture(name="api")
async def api_fixture(store_url: str) -> AsyncIterator[Api]:
    """A seeded store (baseline + every verdict sample) behind a fresh app."""
    opened = await open_api(store_url)
    try:
        yield opened
    finally:
        await close_api(opened)


@pytest.fixture(name="empty_api")
async def empty_api_fixture(store_url: str) -> AsyncIterator[Api]:
    """An app over a store with tokens only: no baseline, no verdicts."""
    opened = await open_api(store_url, seed=False)
    try:
        yield opened
    finally:
        await close_api(opened)


def at(minutes: float, **overrides: Any) -> Verdict:
    """A payments-api k8s verdict ``minutes`` after T0 with its own event id."""
    when = T0 + timedelta(minutes=minutes)
    event_id = overrides.pop("event_id", f"evt-{minutes:+08.2f}")
    return sample("k8s_audit", "matched_entitlement", time=when, event_id=event_id, **overrides)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
