"""Real-shaped ``Verdict`` records for tests: every verdict x reason, from each source where it occurs.

Values follow the shapes the parsers produce from the corpus (CloudTrail ARNs and event ids, k8s
service-account usernames and ``NS/GROUP/RESOURCE/NAME`` resources, SPIFFE ids and mesh
``HOST/PATH`` resources). Reuse them from any test:

    from tests.unit.verdict_samples import all_samples, sample
    v = sample("k8s_audit", "unapproved_system", source_ip=None)

``sample`` builds one verdict for a (source, reason) pair with overrides; ``all_samples`` returns
the full set (one per pair in ``PAIRS`` plus the edge-case ``VARIANTS``).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from enricher.core import verdict as vm
from enricher.core.verdict import Verdict, make_verdict_id

SYSTEM_OF: Final = {"cloudtrail": "aws", "k8s_audit": "k8s", "mesh": "mesh"}
VERDICT_OF_REASON: Final = {r: verdict for verdict, rs in vm.REASONS_BY_VERDICT.items() for r in rs}

T0: Final = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
BASELINE_VERSION: Final = 42
_ID_NAMESPACE: Final = uuid.UUID("6f1c2a8e-3b5d-4e7f-9a0b-1c2d3e4f5a6b")

_PAYMENTS = {
    "identity": "payments-api",
    "identity_kind": "workload",
    "owner": "team-payments",
    "purpose": "Serves the payments API; reads orders, writes receipts",
}
_NO_IDENTITY = {"identity": None, "identity_kind": None, "owner": None, "purpose": None}

# One base record per source; each (source, reason) entry below overrides what differs.
_BASE: Final[dict[str, dict[str, Any]]] = {
    "cloudtrail": {
        **_PAYMENTS,
        "time": T0,
        "principal": "arn:aws:iam::111122223333:role/payments-api",
        "principal_kind": "aws_role",
        "session": "payments-api-7f9c4d",
        "action": "s3:PutObject",
        "resource": "arn:aws:s3:::receipts-prod/2026/03/14/rcpt-000184.json",
        "outcome": "success",
        "account": "111122223333",
        "region": "eu-west-1",
        "source_ip": "10.20.31.44",
        "user_agent": (
            "aws-sdk-java/2.25.6 Linux/5.10.205-195.807.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS "
            "Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard"
        ),
        "entitlement": "receipts-rw",
    },
    "k8s_audit": {
        **_PAYMENTS,
        "time": T0.replace(microsecond=412377),
        "principal": "system:serviceaccount:payments:api",
        "principal_kind": "k8s_service_account",
        "session": "JTI=2f0e8a1c-9b7d-4c55-8f0e-3a9d6b1e7c42",
        "action": "get",
        "resource": "payments/core/configmaps/payments-config",
        "outcome": "success",
        "cluster": "prod-eu-1",
        "namespace": "payments",
        "source_ip": "10.244.3.17",
        "user_agent": "payments-api/v1.42.0 (linux/amd64) kubernetes/$Format",
        "entitlement": "payments-config-read",
    },
    "mesh": {
        **_PAYMENTS,
        "time": T0.replace(microsecond=88000),
        "principal": "spiffe://cluster.local/ns/payments/sa/api",
        "principal_kind": "spiffe",
        "action": "GET",
        "resource": "orders.orders.svc.cluster.local/api/v1/orders/42",
        "outcome": "success",
        "cluster": "prod-eu-1",
        "namespace": "orders",
        "source_ip": "10.244.3.17",
        "user_agent": "Go-http-client/1.1",
        "entitlement": "orders-read",
    },
}

_DECOMMISSIONED = {
    "identity": "report-exporter",
    "identity_kind": "k8s_service_account",
    "owner": "team-analytics",
    "purpose": "Exported nightly reports to S3; replaced by the warehouse job",
    "entitlement": None,
}
_ARGOCD = {
    "identity": "argocd",
    "identity_kind": "workload",
    "owner": "team-platform",
    "purpose": "Syncs cluster state from the gitops repository",
}

# (source, reason) -> overrides of the source's base record.
PAIRS: Final[dict[tuple[str, str], dict[str, Any]]] = {
    # --- cloudtrail
    ("cloudtrail", vm.MATCHED_ENTITLEMENT): {
        "event_id": "b9c3d881-1e77-426c-abd3-5ca20d903380",
        "explanation": "Matched receipts-rw (s3:GetObject, s3:PutObject on arn:aws:s3:::receipts-prod/*).",
    },
    ("cloudtrail", vm.IDENTITY_LINK): {
        "event_id": "5b1d7a6e-2f8c-4b1e-9d3a-7c6e2f1a0b94",
        "principal": "system:serviceaccount:payments:api",
        "principal_kind": "aws_other",
        "session": None,
        "action": "sts:AssumeRoleWithWebIdentity",
        "resource": "arn:aws:iam::111122223333:role/payments-api",
        "user_agent": (
            "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.6 md/GOOS#linux md/GOARCH#amd64 api/sts#1.26.7"
        ),
        "entitlement": None,
        "explanation": (
            "payments-api's service account system:serviceaccount:payments:api assumed its own role "
            "arn:aws:iam::111122223333:role/payments-api (EKS IRSA)."
        ),
    },
    ("cloudtrail", vm.ALLOWED_BEYOND_BASELINE): {
        "identity": "support-triage-agent",
        "identity_kind": "agent",
        "owner": "team-support-ai",
        "purpose": "Summarises support tickets with a hosted model",
        "principal": "arn:aws:iam::111122223333:role/support-triage-agent",
        "session": "botocore-session-1710408413",
        "via": ("system:serviceaccount:support:triage-agent",),
        "action": "bedrock:InvokeModel",
        "resource": "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0",
        "user_agent": (
            "Boto3/1.34.62 md/Botocore#1.34.62 ua/2.0 os/linux#5.10.210 md/arch#x86_64 lang/python#3.11.8"
        ),
        "entitlement": "bedrock-invoke-haiku",
        "explanation": (
            "No entitlement of support-triage-agent allows bedrock:InvokeModel on this model; nearest is "
            "bedrock-invoke-haiku (anthropic.claude-3-haiku-* only), yet the call succeeded."
        ),
    },
    ("cloudtrail", vm.UNUSED_ENTITLEMENT): {
        "event_id": "unused/payments-api/orders-table-read/2026-03-14",
        "session": None,
        "action": "dynamodb:GetItem",
        "resource": "arn:aws:dynamodb:eu-west-1:111122223333:table/orders",
        "source_ip": None,
        "user_agent": None,
        "entitlement": "orders-table-read",
        "explanation": (
            "Entitlement orders-table-read (dynamodb:GetItem, dynamodb:Query on table/orders) has not been "
            "used for 47 days (threshold 30)."
        ),
    },
    ("cloudtrail", vm.UNKNOWN_IDENTITY): {
        **_NO_IDENTITY,
        "event_id": "0e4f2b8c-6a1d-4f3e-b7c2-9d5a8e1f3c60",
        "principal": "arn:aws:iam::111122223333:role/ci-deployer-legacy",
        "session": "GitHubActions",
        "action": "secretsmanager:GetSecretValue",
        "resource": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-creds-4Rzn83",
        "source_ip": "140.82.112.21",
        "user_agent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22 prompt/off",
        "entitlement": None,
        "explanation": (
            "arn:aws:iam::111122223333:role/ci-deployer-legacy is in scope but is no identity's alias."
        ),
    },
    ("cloudtrail", vm.DECOMMISSIONED_IDENTITY): {
        **_DECOMMISSIONED,
        "identity_kind": "aws_user",
        "principal": "arn:aws:iam::111122223333:user/report-exporter",
        "principal_kind": "aws_user",
        "session": None,
        "action": "s3:ListBucket",
        "resource": "arn:aws:s3:::reports-archive",
        "source_ip": "198.51.100.77",
        "user_agent": "aws-cli/1.29.62 Python/3.8.10 Linux/5.4.0-172-generic botocore/1.31.62",
        "explanation": "Identity report-exporter is decommissioned but its access key was used.",
    },
    ("cloudtrail", vm.DENIED_OUTSIDE_BASELINE): {
        "action": "iam:CreateUser",
        "resource": "arn:aws:iam::111122223333:user/backup-svc",
        "outcome": "denied",
        "explanation": (
            "iam:CreateUser was denied and no entitlement of payments-api covers it; nearest is receipts-rw "
            "(s3:GetObject, s3:PutObject)."
        ),
    },
    ("cloudtrail", vm.UNAPPROVED_SYSTEM): {
        "action": "s3:GetObject",
        "resource": "arn:aws:s3:::partner-exports/2026-03/orders.csv",
        "account": "444455556666",
        "explanation": "payments-api holds no entitlement in AWS account 444455556666.",
        "entitlement": None,
    },
    ("cloudtrail", vm.EXPIRED_ENTITLEMENT): {
        "action": "kms:Decrypt",
        "resource": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "entitlement": "kms-decrypt-jit",
        "explanation": "Only kms-decrypt-jit matches and it expired at 2026-03-01T00:00:00Z.",
    },
    ("cloudtrail", vm.UNEXPECTED_SOURCE): {
        "source_ip": "203.0.113.45",
        "explanation": (
            "receipts-rw matches but requires source in 10.0.0.0/8; the call came from 203.0.113.45."
        ),
    },
    ("cloudtrail", vm.ACCESS_MODEL_CHANGE): {
        "identity": "infra-deployer",
        "identity_kind": "ci_pipeline",
        "owner": "team-platform",
        "purpose": "Applies Terraform for the platform accounts",
        "principal": "arn:aws:iam::111122223333:role/github-actions-infra",
        "session": "GitHubActions",
        "action": "iam:AttachRolePolicy",
        "resource": "arn:aws:iam::111122223333:role/payments-api",
        "source_ip": "140.82.112.21",
        "user_agent": (
            "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0"
        ),
        "entitlement": "iam-read",
        "target": "arn:aws:iam::111122223333:role/payments-api",
        "target_identity": "payments-api",
        "actor_entitled": False,
        "explanation": (
            "infra-deployer attached arn:aws:iam::aws:policy/AdministratorAccess to payments-api's role "
            "without an entitlement for iam:AttachRolePolicy."
        ),
    },
    ("cloudtrail", vm.APPROVED_BUT_DENIED): {
        "action": "s3:GetObject",
        "outcome": "denied",
        "via": ("system:serviceaccount:payments:api",),
        "explanation": "receipts-rw allows s3:GetObject here but AWS denied the call (AccessDenied).",
    },
    # --- k8s_audit
    ("k8s_audit", vm.MATCHED_ENTITLEMENT): {
        "explanation": "Matched payments-config-read (get, list, watch on payments/core/configmaps/*).",
    },
    ("k8s_audit", vm.ALLOWED_BEYOND_BASELINE): {
        "action": "list",
        "resource": "payments/core/secrets",
        "explanation": (
            "No entitlement of payments-api allows list on payments/core/secrets; nearest is "
            "payments-config-read (configmaps only), yet the call succeeded."
        ),
    },
    ("k8s_audit", vm.UNUSED_ENTITLEMENT): {
        "event_id": "unused/payments-api/payments-leases/2026-03-14",
        "session": None,
        "action": "update",
        "resource": "payments/coordination.k8s.io/leases/payments-leader",
        "source_ip": None,
        "user_agent": None,
        "entitlement": "payments-leases",
        "explanation": (
            "Entitlement payments-leases (update on payments/coordination.k8s.io/leases/*) has not been used "
            "for 31 days (threshold 30)."
        ),
    },
    ("k8s_audit", vm.UNKNOWN_IDENTITY): {
        **_NO_IDENTITY,
        "principal": "system:serviceaccount:payments:debug-shell",
        "action": "create",
        "resource": "payments/core/pods/exec/api-6d5f7c9b8-x2x9q",
        "user_agent": "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
        "entitlement": None,
        "explanation": "system:serviceaccount:payments:debug-shell is in scope but is no identity's alias.",
    },
    ("k8s_audit", vm.DECOMMISSIONED_IDENTITY): {
        **_DECOMMISSIONED,
        "principal": "system:serviceaccount:batch:report-exporter",
        "resource": "batch/core/secrets/s3-creds",
        "namespace": "batch",
        "outcome": "denied",
        "explanation": "Identity report-exporter is decommissioned but its service account token was used.",
    },
    ("k8s_audit", vm.DENIED_OUTSIDE_BASELINE): {
        "action": "delete",
        "resource": "payments/apps/deployments/api",
        "outcome": "denied",
        "via": ("system:serviceaccount:ops:kube-impersonator",),
        "explanation": (
            "delete on payments/apps/deployments/api was forbidden and no entitlement of payments-api covers "
            "it; nearest is payments-config-read."
        ),
    },
    ("k8s_audit", vm.UNAPPROVED_SYSTEM): {
        "resource": "kube-system/core/secrets/bootstrap-token-abcdef",
        "namespace": "kube-system",
        "entitlement": None,
        "explanation": "payments-api holds no entitlement in namespace kube-system.",
    },
    ("k8s_audit", vm.EXPIRED_ENTITLEMENT): {
        "action": "create",
        "resource": "payments/batch/jobs/migrate-20260314",
        "entitlement": "db-migrate-jit",
        "explanation": "Only db-migrate-jit matches and it expired at 2026-03-13T18:00:00Z.",
    },
    ("k8s_audit", vm.UNEXPECTED_SOURCE): {
        "source_ip": "192.0.2.44",
        "explanation": (
            "payments-config-read matches but requires source in 10.0.0.0/8; the call came from 192.0.2.44."
        ),
    },
    ("k8s_audit", vm.ACCESS_MODEL_CHANGE): {
        **_ARGOCD,
        "principal": "system:serviceaccount:argocd:argocd-application-controller",
        "action": "create",
        "resource": "payments/rbac.authorization.k8s.io/rolebindings/api-admin",
        "source_ip": "10.244.1.9",
        "user_agent": "argocd-application-controller/v2.10.4 (linux/amd64) kubernetes/$Format",
        "entitlement": "gitops-rbac-write",
        "target": "system:serviceaccount:payments:api",
        "target_identity": "payments-api",
        "actor_entitled": True,
        "explanation": (
            "argocd created rolebinding payments/api-admin granting admin to payments-api (entitled by "
            "gitops-rbac-write)."
        ),
    },
    ("k8s_audit", vm.APPROVED_BUT_DENIED): {
        "outcome": "denied",
        "explanation": "payments-config-read allows get here but the API server answered 403 Forbidden.",
    },
    # --- mesh
    ("mesh", vm.MATCHED_ENTITLEMENT): {
        "explanation": "Matched orders-read (GET on orders.orders.svc.cluster.local/api/v1/orders/*).",
    },
    ("mesh", vm.ALLOWED_BEYOND_BASELINE): {
        "action": "DELETE",
        "explanation": (
            "No entitlement of payments-api allows DELETE on "
            "orders.orders.svc.cluster.local/api/v1/orders/42; nearest is orders-read (GET only), yet the "
            "call succeeded."
        ),
    },
    ("mesh", vm.UNUSED_ENTITLEMENT): {
        "event_id": "unused/payments-api/refunds-write/2026-03-14",
        "action": "POST",
        "resource": "orders.orders.svc.cluster.local/api/v1/refunds/*",
        "source_ip": None,
        "user_agent": None,
        "entitlement": "refunds-write",
        "explanation": (
            "Entitlement refunds-write (POST on orders.orders.svc.cluster.local/api/v1/refunds/*) has never "
            "been used since it was granted 62 days ago (threshold 30)."
        ),
    },
    ("mesh", vm.UNKNOWN_IDENTITY): {
        # mesh_require_identity: a line without a peer identity is a shadow caller
        **_NO_IDENTITY,
        "event_id": "e2d6c1f0-8a3b-4b5c-9e7d-0f1a2b3c4d5e",
        "principal": "",
        "principal_kind": "unattributed",
        "source_ip": "10.244.7.33",
        "user_agent": "curl/8.5.0",
        "entitlement": None,
        "explanation": "The request carried no peer identity and the mesh requires one (STRICT mTLS).",
    },
    ("mesh", vm.DECOMMISSIONED_IDENTITY): {
        **_DECOMMISSIONED,
        "principal": "spiffe://cluster.local/ns/batch/sa/report-exporter",
        "explanation": (
            "Identity report-exporter is decommissioned but its workload still calls the orders API."
        ),
    },
    ("mesh", vm.DENIED_OUTSIDE_BASELINE): {
        "action": "POST",
        "resource": "orders.orders.svc.cluster.local/api/v1/orders/42/cancel",
        "outcome": "denied",
        "explanation": (
            "POST on orders.orders.svc.cluster.local/api/v1/orders/42/cancel was denied "
            "(rbac_access_denied_matched_policy[none]) and no entitlement of payments-api covers it."
        ),
    },
    ("mesh", vm.UNAPPROVED_SYSTEM): {
        "resource": "ledger.finance.svc.cluster.local/api/v2/balances",
        "namespace": "finance",
        "entitlement": None,
        "explanation": (
            "payments-api holds no entitlement for destination host ledger.finance.svc.cluster.local."
        ),
    },
    ("mesh", vm.EXPIRED_ENTITLEMENT): {
        "resource": "orders.orders.svc.cluster.local/api/v1/exports/2026-03",
        "entitlement": "orders-export-jit",
        "explanation": "Only orders-export-jit matches and it expired at 2026-03-10T00:00:00Z.",
    },
    ("mesh", vm.UNEXPECTED_SOURCE): {
        "source_ip": "fd00:10:244::7:33",
        "explanation": (
            "orders-read matches but requires source in 10.244.0.0/16; the call came from fd00:10:244::7:33."
        ),
    },
    ("mesh", vm.APPROVED_BUT_DENIED): {
        "outcome": "denied",
        "explanation": (
            "orders-read allows GET here but the sidecar answered 403 "
            "(rbac_access_denied_matched_policy[ns[orders]-policy[deny-all]-rule[0]])."
        ),
    },
}

# Edge cases beyond one-per-pair: name -> (source, reason, overrides).
VARIANTS: Final[dict[str, tuple[str, str, dict[str, Any]]]] = {
    "aws-internal-source": (
        "cloudtrail",
        vm.ALLOWED_BEYOND_BASELINE,
        {"source_ip": "AWS Internal", "user_agent": "AWS Internal", "via": ()},
    ),
    "aws-service-host-source": (
        "cloudtrail",
        vm.UNAPPROVED_SYSTEM,
        {"source_ip": "s3.amazonaws.com", "region": None, "account": None},
    ),
    "aws-access-key-created": (
        "cloudtrail",
        vm.ACCESS_MODEL_CHANGE,
        {
            "action": "iam:CreateAccessKey",
            "resource": "arn:aws:iam::111122223333:user/report-exporter",
            "target": "arn:aws:iam::111122223333:user/report-exporter",
            "target_identity": "report-exporter",
            "actor_entitled": True,
            "entitlement": "iam-user-keys",
            "explanation": (
                "infra-deployer created an access key for report-exporter (entitled by iam-user-keys)."
            ),
        },
    ),
    "aws-star-resource-error": (
        "cloudtrail",
        vm.ALLOWED_BEYOND_BASELINE,
        {"action": "ec2:DescribeInstances", "resource": "*", "outcome": "error"},
    ),
    "k8s-cluster-scoped-drift": (
        "k8s_audit",
        vm.ACCESS_MODEL_CHANGE,
        {
            "resource": "_cluster/rbac.authorization.k8s.io/clusterrolebindings/admin",
            "namespace": None,
            "target": "_cluster/rbac.authorization.k8s.io/clusterrolebindings/admin",
            "target_identity": None,
            "actor_entitled": False,
            "entitlement": None,
            "explanation": "argocd created clusterrolebinding admin without an entitlement for it.",
        },
    ),
    "k8s-istio-policy-drift": (
        "k8s_audit",
        vm.ACCESS_MODEL_CHANGE,
        {
            "action": "patch",
            "resource": "orders/security.istio.io/authorizationpolicies/allow-payments",
            "namespace": "orders",
            "target": "orders/security.istio.io/authorizationpolicies/allow-payments",
            "target_identity": None,
            "explanation": (
                "argocd patched AuthorizationPolicy orders/allow-payments (entitled by gitops-rbac-write)."
            ),
        },
    ),
    "k8s-unknown-human-no-ip": (
        "k8s_audit",
        vm.UNKNOWN_IDENTITY,
        {
            "principal": "ci-bot",
            "principal_kind": "k8s_user",
            "session": None,
            "source_ip": None,
            "outcome": "denied",
        },
    ),
    "mesh-tcp-unapproved": (
        "mesh",
        vm.UNAPPROVED_SYSTEM,
        {
            "action": "TCP",
            "resource": "postgres.db.svc.cluster.local/",
            "namespace": "db",
            "user_agent": None,
            "explanation": (
                "payments-api holds no entitlement for destination host postgres.db.svc.cluster.local."
            ),
        },
    ),
    "mesh-unknown-spiffe": (
        "mesh",
        vm.UNKNOWN_IDENTITY,
        {
            "principal": "spiffe://cluster.local/ns/default/sa/default",
            "principal_kind": "spiffe",
            "explanation": (
                "spiffe://cluster.local/ns/default/sa/default is in scope but is no identity's alias."
            ),
        },
    ),
}


def severity(verdict: str, reason: str, outcome: str, actor_entitled: bool | None) -> str:
    """SPEC §6 severity, restated here so the samples do not depend on the rules under test."""
    if verdict == vm.EXPECTED:
        return "info"
    if verdict == vm.DRIFT:
        return "high" if actor_entitled is False else "medium"
    if verdict == vm.OVERPRIVILEGED:
        return "medium"
    if reason in (vm.UNKNOWN_IDENTITY, vm.DECOMMISSIONED_IDENTITY) and outcome == "success":
        return "critical"
    return "high"


def standards(verdict: str, reason: str, identity_kind: str | None, action: str) -> tuple[str, ...]:
    """SPEC §6 standards tags as the product writes them."""
    tags: list[str] = []
    if reason == vm.DECOMMISSIONED_IDENTITY:
        tags.append("OWASP-NHI1:2025")
    if verdict == vm.OVERPRIVILEGED:
        tags.append("OWASP-NHI5:2025")
    if action == "iam:CreateAccessKey":
        tags.append("OWASP-NHI7:2025")
    if reason == vm.UNAPPROVED_SYSTEM:
        tags.append("OWASP-NHI8:2025")
    if verdict != vm.EXPECTED:
        tags.append("NIST-CSF-2.0:PR.AA-05")
    if verdict in (vm.UNAUTHORIZED_PATH, vm.DRIFT):
        tags.append("NIST-CSF-2.0:DE.CM-09")
    tags += ["NIST-CSF-2.0:DE.CM-03", "NIST-CSF-2.0:DE.AE-07"]
    if identity_kind == "agent":
        tags.append(
            {"overprivileged": "MAESTRO:L4", "unauthorized_path": "MAESTRO:L7"}.get(verdict, "MAESTRO:L6")
        )
    return tuple(tags)


_DEFAULTS: Final[dict[str, Any]] = {
    "schema_version": vm.SCHEMA_VERSION,
    "session": None,
    "via": (),
    "account": None,
    "region": None,
    "cluster": None,
    "namespace": None,
    "source_ip": None,
    "user_agent": None,
    "entitlement": None,
    "target": None,
    "target_identity": None,
    "actor_entitled": None,
    "baseline_version": BASELINE_VERSION,
}


def sample(source: str, reason: str, **overrides: Any) -> Verdict:
    """One verdict for (source, reason); overrides replace fields (derived fields follow unless given)."""
    verdict = VERDICT_OF_REASON[reason]
    fields: dict[str, Any] = {**_DEFAULTS, **_BASE[source], **PAIRS.get((source, reason), {}), **overrides}
    # event ids are UUID-shaped in all three sources (eventID, auditID, x-request-id)
    fields.setdefault("event_id", str(uuid.uuid5(_ID_NAMESPACE, f"{source}/{reason}")))
    fields["source"] = source
    fields["system"] = SYSTEM_OF[source]
    fields["verdict"] = verdict
    fields["reason"] = reason
    fields.setdefault("explanation", f"{verdict}/{reason} on {fields['action']} {fields['resource']}.")
    fields.setdefault("verdict_id", make_verdict_id(source, fields["event_id"]))
    fields.setdefault("severity", severity(verdict, reason, fields["outcome"], fields["actor_entitled"]))
    fields.setdefault("standards", standards(verdict, reason, fields["identity_kind"], fields["action"]))
    return Verdict(**fields)


def variant(name: str, **overrides: Any) -> Verdict:
    """One of the named edge-case ``VARIANTS``."""
    source, reason, extra = VARIANTS[name]
    event_id = str(uuid.uuid5(_ID_NAMESPACE, f"variant/{name}"))
    return sample(source, reason, **{"event_id": event_id, **extra, **overrides})


def all_samples() -> list[Verdict]:
    """Every pair in ``PAIRS`` plus every variant: all 4 verdicts, all 12 reasons, all 3 sources."""
    out = [sample(source, reason) for source, reason in PAIRS]
    out += [variant(name) for name in VARIANTS]
    return out


def alert_samples() -> list[Verdict]:
    """The samples that go to the alert topics (verdict other than expected)."""
    return [v for v in all_samples() if v.verdict != vm.EXPECTED]


def sample_id(v: Verdict) -> str:
    """A readable pytest id: ``source-reason-shortid``."""
    return f"{v.source}-{v.reason}-{v.verdict_id[:6]}"


def replace(v: Verdict, **changes: Any) -> Verdict:
    """``dataclasses.replace`` re-exported for tests that tweak one field."""
    return dataclasses.replace(v, **changes)
