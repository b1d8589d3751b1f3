"""Verdict -> OCSF 1.5.0 Detection Finding: valid against the packaged OCSF schema, offline."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from enricher.core import verdict as vm
from enricher.core.ocsf import (
    CLASS_UID,
    OCSF_VERSION,
    SEVERITY_ID,
    TYPE_UID,
    epoch_ms,
    ocsf_json,
    to_detection_finding,
)
from enricher.core.verdict import Verdict
from tests.unit.ocsf_validation import finding_errors
from tests.unit.verdict_samples import alert_samples, sample, sample_id, variant

VERSION = "0.1.0"
ALERTS = alert_samples()
SONNET_ARN = "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"


def finding(v: Verdict) -> dict[str, Any]:
    return to_detection_finding(v, product_version=VERSION)


def wire(v: Verdict) -> dict[str, Any]:
    """The finding as the OCSF topic carries it."""
    out: dict[str, Any] = orjson.loads(ocsf_json(v, VERSION))
    return out


def evidence(f: dict[str, Any]) -> dict[str, Any]:
    ev: dict[str, Any] = f["evidences"][0]
    return ev


@pytest.mark.parametrize("v", ALERTS, ids=sample_id)
def test_every_alert_maps_to_a_valid_detection_finding(v: Verdict) -> None:
    f = finding(v)
    assert finding_errors(f) == []
    assert finding_errors(wire(v)) == []
    assert f["class_uid"] == 2004 and f["category_uid"] == 2 and f["activity_id"] == 1
    assert f["type_uid"] == f["class_uid"] * 100 + f["activity_id"] == 200401
    assert f["metadata"]["version"] == "1.5.0"
    assert f["metadata"]["uid"] == f["finding_info"]["uid"] == v.verdict_id
    assert f["metadata"]["correlation_uid"] == v.event_id
    assert f["finding_info"]["related_events"][0]["uid"] == v.event_id
    assert f["finding_info"]["types"] == [v.verdict, v.reason]
    assert f["finding_info"]["analytic"] == {"type_id": 1, "type": "Rule", "name": v.reason, "uid": v.reason}
    assert f["message"] == v.explanation
    assert f["is_alert"] is True
    assert "actor" not in f


@pytest.mark.parametrize("v", ALERTS, ids=sample_id)
def test_owner_purpose_entitlement_and_standards_are_in_the_enrichment(v: Verdict) -> None:
    enrichment = finding(v)["enrichments"][0]
    assert enrichment["name"] == "actor.user.uid"
    assert enrichment["value"] == v.principal
    assert enrichment["type"] == "nhi_entitlement"
    assert enrichment["provider"] == "enricher"
    data = enrichment["data"]
    assert (data["identity"], data["owner"], data["purpose"], data["entitlement"]) == (
        v.identity,
        v.owner,
        v.purpose,
        v.entitlement,
    )
    assert data["standards"] == list(v.standards)
    assert data["baseline_version"] == v.baseline_version
    assert (data["target"], data["actor_entitled"]) == (v.target, v.actor_entitled)


def test_time_is_epoch_milliseconds() -> None:
    v = sample("k8s_audit", vm.UNAPPROVED_SYSTEM)  # 2026-03-14T09:26:53.412377Z
    f = wire(v)
    assert f["time"] == 1773480413412
    assert type(f["time"]) is int
    assert f["finding_info"]["first_seen_time"] == f["time"]
    assert epoch_ms(v.time) == int(v.time.timestamp()) * 1000 + v.time.microsecond // 1000


@pytest.mark.parametrize(
    ("severity", "severity_id", "caption"),
    [
        ("info", 1, "Informational"),
        ("low", 2, "Low"),
        ("medium", 3, "Medium"),
        ("high", 4, "High"),
        ("critical", 5, "Critical"),
    ],
)
def test_severity_mapping(severity: str, severity_id: int, caption: str) -> None:
    v = dataclasses.replace(sample("mesh", vm.ALLOWED_BEYOND_BASELINE), severity=severity)
    f = finding(v)
    assert (f["severity_id"], f["severity"]) == (severity_id, caption)
    assert SEVERITY_ID[severity] == severity_id
    assert finding_errors(f) == []


def test_sample_severities_map_as_specified() -> None:
    assert finding(sample("cloudtrail", vm.UNKNOWN_IDENTITY))["severity_id"] == 5
    assert finding(sample("k8s_audit", vm.DECOMMISSIONED_IDENTITY))["severity_id"] == 4  # denied
    assert finding(sample("cloudtrail", vm.ACCESS_MODEL_CHANGE))["severity_id"] == 4  # actor not entitled
    assert finding(sample("k8s_audit", vm.ACCESS_MODEL_CHANGE))["severity_id"] == 3
    assert finding(sample("mesh", vm.ALLOWED_BEYOND_BASELINE))["severity_id"] == 3


def test_aws_findings_use_the_cloud_profile() -> None:
    v = sample("cloudtrail", vm.UNAPPROVED_SYSTEM)
    f = finding(v)
    assert f["metadata"]["profiles"] == ["cloud"]
    assert f["cloud"] == {
        "provider": "AWS",
        "region": "eu-west-1",
        "account": {"uid": "444455556666", "type_id": 10, "type": "AWS Account"},
    }
    assert f["api"] == evidence(f)["api"] == {"operation": "s3:GetObject", "service": {"name": "aws"}}
    # the actor's own account (from its ARN) differs from the account the call landed in
    assert evidence(f)["actor"]["user"]["account"]["uid"] == "111122223333"
    assert f["resources"] == [
        {
            "uid": "arn:aws:s3:::partner-exports/2026-03/orders.csv",
            "type": "AWS::S3::Object",
            "name": "partner-exports/2026-03/orders.csv",
            "region": "eu-west-1",
        }
    ]


def test_aws_finding_without_region_or_account_still_validates() -> None:
    f = finding(variant("aws-service-host-source"))
    assert f["cloud"] == {"provider": "AWS"}
    assert evidence(f)["src_endpoint"] == {"hostname": "s3.amazonaws.com"}
    assert finding_errors(f) == []


@pytest.mark.parametrize("source", ["k8s_audit", "mesh"])
def test_k8s_and_mesh_findings_carry_no_cloud_profile(source: str) -> None:
    f = finding(sample(source, vm.DENIED_OUTSIDE_BASELINE))
    assert "profiles" not in f["metadata"]
    assert "cloud" not in f and "api" not in f
    assert f["unmapped"]["cluster"] == "prod-eu-1"


def test_the_offending_call_is_evidence() -> None:
    v = sample("cloudtrail", vm.ACCESS_MODEL_CHANGE)
    ev = evidence(finding(v))
    assert ev["api"] == {"operation": "iam:AttachRolePolicy", "service": {"name": "aws"}}
    assert ev["actor"]["user"] == {
        "uid": "arn:aws:iam::111122223333:role/github-actions-infra",
        "name": "github-actions-infra",
        "type_id": 99,
        "type": "AWS IAM Role",
        "account": {"uid": "111122223333", "type_id": 10, "type": "AWS Account"},
    }
    assert ev["actor"]["session"] == {
        "uid": "GitHubActions",
        "issuer": "arn:aws:iam::111122223333:role/github-actions-infra",
    }
    assert ev["src_endpoint"] == {"ip": "140.82.112.21"}
    assert ev["http_request"]["user_agent"].startswith("APN/1.0 HashiCorp/1.0 Terraform/1.7.4")


@pytest.mark.parametrize(
    ("v", "user_type"),
    [
        (sample("k8s_audit", vm.UNKNOWN_IDENTITY), "Kubernetes ServiceAccount"),
        (sample("mesh", vm.DECOMMISSIONED_IDENTITY), "SPIFFE ID"),
        (sample("cloudtrail", vm.DECOMMISSIONED_IDENTITY), "AWS IAM User"),
        (variant("k8s-unknown-human-no-ip"), "Kubernetes User"),
    ],
    ids=["k8s-sa", "spiffe", "iam-user", "k8s-user"],
)
def test_non_human_principals_are_typed(v: Verdict, user_type: str) -> None:
    user = evidence(finding(v))["actor"]["user"]
    assert user["uid"] == v.principal
    assert (user["type_id"], user["type"]) == (99, user_type)


def test_unattributed_mesh_request_has_no_actor_but_valid_evidence() -> None:
    v = sample("mesh", vm.UNKNOWN_IDENTITY)
    assert v.principal == ""
    f = finding(v)
    ev = evidence(f)
    assert "actor" not in ev
    assert ev["src_endpoint"] == {"ip": "10.244.7.33"}
    assert ev["dst_endpoint"] == {
        "hostname": "orders.orders.svc.cluster.local",
        "svc_name": "orders.orders.svc.cluster.local",
    }
    assert all(o["name"] != "evidences.actor.user.uid" for o in f["observables"])
    assert finding_errors(f) == []


def test_non_ip_source_addresses_do_not_go_in_ip() -> None:
    ev = evidence(finding(variant("aws-internal-source")))
    assert ev["src_endpoint"] == {"name": "AWS Internal"}
    ipv6 = evidence(finding(sample("mesh", vm.UNEXPECTED_SOURCE)))
    assert ipv6["src_endpoint"] == {"ip": "fd00:10:244::7:33"}


def test_no_source_address_no_src_endpoint() -> None:
    f = finding(variant("k8s-unknown-human-no-ip"))
    assert "src_endpoint" not in evidence(f)
    assert finding_errors(f) == []


@pytest.mark.parametrize(
    ("v", "expected"),
    [
        (
            sample("k8s_audit", vm.UNKNOWN_IDENTITY),
            {
                "uid": "payments/core/pods/exec/api-6d5f7c9b8-x2x9q",
                "name": "api-6d5f7c9b8-x2x9q",
                "type": "k8s:core/pods/exec",
                "namespace": "payments",
            },
        ),
        (
            sample("k8s_audit", vm.ALLOWED_BEYOND_BASELINE),
            {"uid": "payments/core/secrets", "type": "k8s:core/secrets", "namespace": "payments"},
        ),
        (
            variant("k8s-cluster-scoped-drift"),
            {
                "uid": "_cluster/rbac.authorization.k8s.io/clusterrolebindings/admin",
                "name": "admin",
                "type": "k8s:rbac.authorization.k8s.io/clusterrolebindings",
            },
        ),
        (
            variant("mesh-tcp-unapproved"),
            {
                "uid": "postgres.db.svc.cluster.local/",
                "type": "mesh:tcp",
                "name": "postgres.db.svc.cluster.local",
                "hostname": "postgres.db.svc.cluster.local",
                "namespace": "db",
            },
        ),
        (
            sample("cloudtrail", vm.UNKNOWN_IDENTITY),
            {
                "uid": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-creds-4Rzn83",
                "type": "AWS::SecretsManager::Secret",
                "name": "prod/db-creds-4Rzn83",
                "region": "eu-west-1",
            },
        ),
        (
            sample("cloudtrail", vm.DECOMMISSIONED_IDENTITY),
            {
                "uid": "arn:aws:s3:::reports-archive",
                "type": "AWS::S3::Bucket",
                "name": "reports-archive",
                "region": "eu-west-1",
            },
        ),
        (
            sample("cloudtrail", vm.ALLOWED_BEYOND_BASELINE),
            {
                "uid": SONNET_ARN,
                "type": "AWS::Bedrock::FoundationModel",
                "name": "anthropic.claude-3-5-sonnet-20240620-v1:0",
                "region": "eu-west-1",
            },
        ),
        (
            sample("cloudtrail", vm.ACCESS_MODEL_CHANGE, region=None),
            {
                "uid": "arn:aws:iam::111122223333:role/payments-api",
                "type": "AWS::IAM::Role",
                "name": "payments-api",
            },
        ),
        (
            sample(
                "cloudtrail",
                vm.DENIED_OUTSIDE_BASELINE,
                resource="arn:aws:sqs:eu-west-1:111122223333:receipts-q",
            ),
            {
                "uid": "arn:aws:sqs:eu-west-1:111122223333:receipts-q",
                "type": "AWS::SQS::Queue",
                "name": "receipts-q",
                "region": "eu-west-1",
            },
        ),
    ],
    ids=[
        "k8s-subresource",
        "k8s-collection",
        "k8s-cluster-scoped",
        "mesh-tcp",
        "aws-secret",
        "aws-bucket",
        "aws-model",
        "aws-role",
        "aws-queue",
    ],
)
def test_resources(v: Verdict, expected: dict[str, Any]) -> None:
    assert finding(v)["resources"] == [expected]


def test_a_star_resource_is_not_a_resource() -> None:
    f = finding(variant("aws-star-resource-error"))
    assert "resources" not in f
    assert all(o["name"] != "resources.uid" for o in f["observables"])
    assert f["unmapped"]["outcome"] == "error"
    assert finding_errors(f) == []


def test_expected_verdict_maps_as_informational_non_alert() -> None:
    f = finding(sample("mesh", vm.MATCHED_ENTITLEMENT))
    assert (f["severity_id"], f["is_alert"]) == (1, False)
    assert finding_errors(f) == []


def test_json_bytes_match_the_dict() -> None:
    v = sample("cloudtrail", vm.ALLOWED_BEYOND_BASELINE)
    raw = ocsf_json(v, VERSION)
    assert isinstance(raw, bytes)
    assert orjson.loads(raw) == orjson.loads(orjson.dumps(finding(v)))
    assert wire(v)["metadata"]["product"] == {
        "name": "enricher",
        "vendor_name": "enricher",
        "version": VERSION,
    }
    assert "MAESTRO:L4" in wire(v)["enrichments"][0]["data"]["standards"]


def test_module_constants() -> None:
    assert (CLASS_UID, TYPE_UID, OCSF_VERSION) == (2004, 200401, "1.5.0")


# --- the validator itself must catch broken findings, or the tests above prove nothing


def _good() -> dict[str, Any]:
    f = wire(sample("cloudtrail", vm.UNEXPECTED_SOURCE))
    assert finding_errors(f) == []
    return f


@pytest.mark.parametrize(
    "case",
    [
        "top-level actor",
        "time as string",
        "time as float",
        "wrong class_uid",
        "missing finding_info",
        "missing finding uid",
        "cloud profile without cloud",
        "severity_id 7",
        "unknown attribute",
        "empty evidence",
        "enrichment without value",
        "user type_id 4 (only from 1.6)",
        "bad ip",
        "type_uid mismatch",
        "category_uid mismatch",
    ],
)
def test_validator_catches_broken_findings(case: str) -> None:
    f = _good()
    ev = f["evidences"][0]
    match case:
        case "top-level actor":
            f["actor"] = ev["actor"]
        case "time as string":
            f["time"] = "2026-03-14T09:26:53Z"
        case "time as float":
            f["time"] = 1773480413.5
        case "wrong class_uid":
            f["class_uid"] = 2001
        case "missing finding_info":
            del f["finding_info"]
        case "missing finding uid":
            del f["finding_info"]["uid"]
        case "cloud profile without cloud":
            del f["cloud"]
        case "severity_id 7":
            f["severity_id"] = 7
        case "unknown attribute":
            f["nhi"] = {"owner": "team-payments"}
        case "empty evidence":
            f["evidences"] = [{}]
        case "enrichment without value":
            del f["enrichments"][0]["value"]
        case "user type_id 4 (only from 1.6)":
            ev["actor"]["user"]["type_id"] = 4
        case "bad ip":
            ev["src_endpoint"]["ip"] = "AWS Internal"
        case "type_uid mismatch":
            f["type_uid"] = 200402  # an allowed value, but not activity 1
        case "category_uid mismatch":
            f["category_uid"] = 3
    assert finding_errors(f), case


def test_top_level_actor_needs_the_host_profile() -> None:
    f = _good()
    f["actor"] = f["evidences"][0]["actor"]
    assert finding_errors(f)
    f["metadata"]["profiles"] = ["cloud", "host"]
    assert finding_errors(f) == []


@pytest.mark.parametrize("schema_version", ["1.4.0", "1.6.0", "1.8.0"])
def test_findings_also_validate_against_neighbouring_ocsf_versions(schema_version: str) -> None:
    # consumers pinned to another OCSF release still accept the records unchanged
    for v in ALERTS:
        assert finding_errors(finding(v), version=schema_version) == [], sample_id(v)
