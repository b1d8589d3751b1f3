"""Deterministic synthetic baselines for benchmarks and scale tests.

``generate_baseline`` builds realistic-looking identities: IAM roles and users, Kubernetes
service accounts (with their SPIFFE ids), workloads spanning all three systems, CI pipelines and AI
agents, each with entitlements drawn from common AWS, Kubernetes and mesh grants (S3 prefixes,
DynamoDB tables, Secrets Manager secrets with their ``-??????`` suffix, namespace-scoped RBAC, mesh
routes), a few just-in-time grants with ``valid_until``, a few with source CIDRs and a few
decommissioned identities. The same ``seed`` always gives the same document.

Naming scheme (benchmarks derive matching events from it): identity ``i`` is ``{app}-{i:06d}``;
its AWS alias is ``arn:aws:iam::{account}:role/{id}`` (``user/`` for ``aws_user``), its service
account ``system:serviceaccount:{namespace}:{id}`` and ``spiffe://cluster.local/ns/{namespace}/sa/{id}``.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from typing import Final

from enricher.core.model import BaselineDocument, BaselineSettings, Conditions, Entitlement, Identity

_APPS: Final = (
    "payments-api", "orders-svc", "ledger-worker", "checkout-web", "inventory-sync", "fraud-scorer",
    "billing-batch", "search-indexer", "notify-sender", "reports-etl", "auth-gateway", "media-resizer",
)  # fmt: skip
_TEAMS: Final = ("payments", "orders", "ledger", "checkout", "inventory", "risk", "billing", "search")
_ACCOUNTS: Final = tuple(f"{111122220000 + 1111 * n:012d}" for n in range(20))
_REGIONS: Final = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
_APPROVERS: Final = ("alice", "bob", "carol", "dmitri", "erin", "farah")
_CIDRS: Final = (("10.0.0.0/8",), ("10.20.0.0/16", "192.168.0.0/24"), ("172.16.0.0/12", "fd00::/8"))
_KIND_WEIGHTS: Final = (
    ("aws_role", 35), ("k8s_service_account", 25), ("workload", 20), ("ci_pipeline", 10), ("agent", 7),
    ("aws_user", 3),
)  # fmt: skip
_KINDS: Final = tuple(k for k, w in _KIND_WEIGHTS for _ in range(w))
_EPOCH: Final = datetime(2026, 1, 1, tzinfo=UTC)

_S = sys.intern
_Grant = tuple[str, tuple[str, ...], tuple[str, ...]]


def _aws_grants(rnd: random.Random, ident: str, acct: str, team: str) -> list[_Grant]:
    region = rnd.choice(_REGIONS)
    bucket = f"arn:aws:s3:::{team}-{rnd.choice(('data', 'receipts', 'exports'))}-{rnd.randrange(1000)}"
    other = rnd.choice(_ACCOUNTS)

    def arn(service: str, rest: str) -> str:
        return f"arn:aws:{service}:{region}:{acct}:{rest}"

    return [
        ("s3-read", ("s3:GetObject", "s3:ListBucket"), (bucket, f"{bucket}/*")),
        ("s3-write", ("s3:PutObject",), (f"{bucket}/{ident}/*",)),
        (
            "table-rw",
            ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"),
            (arn("dynamodb", f"table/{team}-{rnd.randrange(100)}"),),
        ),
        (
            "queue",
            ("sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"),
            (arn("sqs", f"{ident}-jobs"),),
        ),
        # Secrets Manager appends six random characters to every secret ARN.
        ("secret", ("secretsmanager:GetSecretValue",), (arn("secretsmanager", f"secret:{ident}/db-??????"),)),
        ("kms", ("kms:Decrypt", "kms:GenerateDataKey"), (arn("kms", f"key/{rnd.getrandbits(64):016x}"),)),
        ("logs", ("logs:CreateLogStream", "logs:PutLogEvents"), (arn("logs", f"log-group:/app/{ident}:*"),)),
        ("assume", ("sts:AssumeRole",), (f"arn:aws:iam::{other}:role/{team}-deployer",)),
        ("describe", ("ec2:Describe*",), ("*",)),
        ("invoke", ("lambda:InvokeFunction",), (arn("lambda", f"function:{team}-*"),)),
    ]


def _k8s_grants(ident: str, ns: str) -> list[_Grant]:
    return [
        ("configmaps", ("get", "list", "watch"), (f"{ns}/core/configmaps/*",)),
        ("own-secret", ("get",), (f"{ns}/core/secrets/{ident}-creds",)),
        ("jobs", ("create", "delete", "get"), (f"{ns}/batch/jobs/*",)),
        ("deployments", ("get", "list", "patch"), (f"{ns}/apps/deployments/{ident}",)),
        ("pods", ("get", "list"), (f"{ns}/core/pods/*",)),
        ("namespaces", ("get", "list"), ("_cluster/core/namespaces/*",)),
    ]


def _mesh_grants(rnd: random.Random, ns: str) -> list[_Grant]:
    svc = f"{rnd.choice(_APPS)}.{rnd.choice(_TEAMS)}.svc.cluster.local"
    return [
        ("api-read", ("GET",), (f"{svc}/api/v1/*",)),
        ("api-write", ("POST", "PUT"), (f"{svc}/api/v1/{ns}/*",)),
        ("db", ("TCP",), (f"postgres.{ns}.svc.cluster.local/",)),
        ("health", ("GET",), (f"{svc}/healthz",)),
    ]


def _aliases(kind: str, ident: str, acct: str, ns: str) -> tuple[str, ...]:
    role = f"arn:aws:iam::{acct}:role/{ident}"
    sa = (f"system:serviceaccount:{ns}:{ident}", f"spiffe://cluster.local/ns/{ns}/sa/{ident}")
    if kind == "aws_role" or kind == "ci_pipeline":
        return (role,)
    if kind == "aws_user":
        return (f"arn:aws:iam::{acct}:user/{ident}",)
    if kind == "k8s_service_account":
        return sa
    return (role, *sa)


def _entitlement(rnd: random.Random, eid: str, grant: _Grant, system: str) -> Entitlement:
    _, actions, resources = grant
    valid_from = valid_until = None
    conditions = _NO_CONDITIONS
    roll = rnd.random()
    if roll < 0.05:  # just-in-time grant
        valid_from = _EPOCH + timedelta(days=rnd.randrange(120))
        valid_until = valid_from + timedelta(hours=rnd.choice((1, 8, 24, 72)))
    elif roll < 0.10:
        conditions = _CONDITIONS[rnd.randrange(len(_CONDITIONS))]
    return Entitlement(
        id=eid,
        system=_S(system),
        actions=tuple(_S(a) for a in actions),
        resources=resources,
        conditions=conditions,
        valid_from=valid_from,
        valid_until=valid_until,
        approved_by=_S(rnd.choice(_APPROVERS)),
        ticket=f"SEC-{rnd.randrange(10000)}",
    )


_NO_CONDITIONS: Final = Conditions()
_CONDITIONS: Final = tuple(Conditions(source_cidrs=c) for c in _CIDRS)


def _identity(rnd: random.Random, n: int, per_identity: int) -> Identity:
    kind = rnd.choice(_KINDS)
    team = rnd.choice(_TEAMS)
    ident = f"{rnd.choice(_APPS)}-{n:06d}"
    acct = rnd.choice(_ACCOUNTS)
    ns = team if kind != "ci_pipeline" else "ci"
    aliases = _aliases(kind, ident, acct, ns)
    pools: list[list[_Grant]] = []
    systems: list[str] = []
    if any(a.startswith("arn:") for a in aliases):
        pools.append(_aws_grants(rnd, ident, acct, team))
        systems.append("aws")
    if any(a.startswith("system:") for a in aliases):
        pools += [_k8s_grants(ident, ns), _mesh_grants(rnd, ns)]
        systems += ["k8s", "mesh"]
    entitlements = []
    for j in range(per_identity):
        which = j % len(pools)
        grants = pools[which]
        grant = grants[(j // len(pools)) % len(grants)]
        entitlements.append(_entitlement(rnd, f"{grant[0]}-{j}", grant, systems[which]))
    return Identity(
        id=ident,
        kind=_S(kind),
        owner=_S(f"team-{team}"),
        purpose=_S(f"{kind.replace('_', ' ').capitalize()} for the {team} domain"),
        status=_S("decommissioned" if rnd.random() < 0.03 else "active"),
        aliases=aliases,
        entitlements=tuple(entitlements),
    )


def generate_baseline(identities: int, entitlements_per_identity: int, seed: int = 0) -> BaselineDocument:
    """Build a deterministic baseline of ``identities`` x ``entitlements_per_identity`` grants."""
    rnd = random.Random(seed)
    return BaselineDocument(
        identities=tuple(_identity(rnd, n, entitlements_per_identity) for n in range(identities)),
        settings=BaselineSettings(out_of_scope=("arn:aws:iam::*:role/aws-service-role/*",)),
    )
