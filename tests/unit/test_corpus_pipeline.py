"""The whole real-log corpus through the core: every record is judged, out of scope, dropped or
dead-lettered with a reason; nothing raises. The expected counts per file are a regression table:
a change in any of them must be explained (and the table updated) in the same commit."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from enricher import __version__
from enricher.core.baseline import compile_baseline
from enricher.core.baseline_file import load_baseline_file
from enricher.core.ocsf import to_detection_finding
from enricher.core.pipeline import BatchResult, EnrichState, enrich, serialize_verdict
from enricher.replay import iter_records, read_input
from tests.conftest import CORPUS, REPO
from tests.unit.ocsf_validation import finding_errors

# file -> (records, verdicts, out of scope, dropped (non-final stage, digest, duplicate), dead letters)
EXPECTED: dict[str, tuple[int, int, int, int, int]] = {
    "cloudtrail/elastic-integrations/test-assume-role-aws-service-json.log": (1, 0, 1, 0, 0),
    "cloudtrail/elastic-integrations/test-assume-role-email-session-json.log": (1, 0, 1, 0, 0),
    "cloudtrail/elastic-integrations/test-cloudtrail-digest-json.log": (1, 0, 0, 1, 0),
    "cloudtrail/elastic-integrations/test-converse-json.log": (1, 1, 0, 0, 0),
    "cloudtrail/elastic-integrations/test-us-gov-arn.log": (1, 1, 0, 0, 0),
    "cloudtrail/elastic-integrations/test-user-authentication.log": (1, 0, 1, 0, 0),
    "cloudtrail/otrf-security-datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json": (103, 98, 5, 0, 0),
    "cloudtrail/panther-analysis/aws_cloudtrail_rules_tests_selected.jsonl": (101, 31, 12, 56, 2),
    "cloudtrail/stratus-red-team/aws.credential-access.ec2-get-password-data.json": (1, 34, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.credential-access.ec2-steal-instance-credentials.json": (1, 45, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.credential-access.secretsmanager-batch-retrieve-secrets.json": (
        1,
        5,
        0,
        0,
        0,
    ),
    "cloudtrail/stratus-red-team/aws.credential-access.secretsmanager-retrieve-secrets.json": (
        1,
        21,
        0,
        0,
        0,
    ),
    "cloudtrail/stratus-red-team/aws.credential-access.ssm-retrieve-securestring-parameters.json": (
        1,
        10,
        0,
        0,
        0,
    ),
    "cloudtrail/stratus-red-team/aws.defense-evasion.cloudtrail-delete.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.defense-evasion.cloudtrail-event-selectors.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.defense-evasion.cloudtrail-stop.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.defense-evasion.dns-delete-logs.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.defense-evasion.organizations-leave.json": (1, 3, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.defense-evasion.vpc-remove-flow-logs.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.discovery.ec2-download-user-data.json": (1, 19, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.execution.ec2-launch-unusual-instances.json": (1, 3, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.execution.ec2-user-data.json": (1, 35, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.execution.ssm-send-command.json": (1, 56, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.execution.ssm-start-session.json": (1, 29, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.exfiltration.ec2-security-group-open-port-22-ingress.json": (
        1,
        1,
        0,
        0,
        0,
    ),
    "cloudtrail/stratus-red-team/aws.exfiltration.ec2-share-ami.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.exfiltration.ec2-share-ebs-snapshot.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.exfiltration.rds-share-snapshot.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.impact.bedrock-invoke-model.json": (1, 15, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.initial-access.console-login-without-mfa.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.lateral-movement.ec2-instance-connect.json": (1, 3, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json": (
        1,
        0,
        4,
        0,
        0,
    ),
    "cloudtrail/stratus-red-team/aws.persistence.iam-backdoor-role.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.persistence.iam-backdoor-user.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.persistence.iam-create-admin-user.json": (1, 3, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.persistence.iam-create-backdoor-role.json": (1, 2, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.persistence.iam-create-user-login-profile.json": (1, 3, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.persistence.lambda-backdoor-function.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.persistence.lambda-layer-extension.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.persistence.lambda-overwrite-code.json": (1, 1, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.persistence.rolesanywhere-create-trust-anchor.json": (1, 2, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.persistence.sts-federation-token.json": (1, 2, 0, 0, 0),
    "cloudtrail/stratus-red-team/aws.privilege-escalation.iam-update-user-login-profile.json": (
        1,
        1,
        0,
        0,
        0,
    ),
    "k8s_audit/audit2rbac/demo.log": (37, 5, 32, 0, 0),
    "k8s_audit/elastic-integrations/test-audit.log": (5, 1, 3, 1, 0),
    "k8s_audit/elastic-integrations/test-kube-audit.log": (1, 0, 1, 0, 0),
    "k8s_audit/falco/anonymous_creates_namespace_foo.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/attach_cluster_admin_role.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/attach_pod.json": (1, 0, 0, 1, 0),
    "k8s_audit/falco/create_cluster_role_pod_exec.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_cluster_role_wildcard_resources.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_cluster_role_wildcard_verbs.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_cluster_role_write_privileges.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_clusterrole.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_clusterrolebinding.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_configmap.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_configmap_no_sensitive_values.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_configmap_sensitive_values.json": (6, 0, 6, 0, 0),
    "k8s_audit/falco/create_deployment.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_kube_system_secret.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_nginx_pod_hostnetwork.json": (1, 1, 0, 0, 0),
    "k8s_audit/falco/create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json": (1, 1, 0, 0, 0),
    "k8s_audit/falco/create_nginx_pod_nohostnetwork.json": (1, 1, 0, 0, 0),
    "k8s_audit/falco/create_nginx_pod_privileged.json": (1, 1, 0, 0, 0),
    "k8s_audit/falco/create_nginx_pod_privileged_2nd_container.json": (1, 1, 0, 0, 0),
    "k8s_audit/falco/create_nginx_pod_sensitive_mount.json": (1, 1, 0, 0, 0),
    "k8s_audit/falco/create_nginx_pod_sensitive_mount_2nd_container.json": (1, 1, 0, 0, 0),
    "k8s_audit/falco/create_nginx_pod_unprivileged.json": (1, 1, 0, 0, 0),
    "k8s_audit/falco/create_nginx_pod_unsensitive_mount.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_nginx_service_nodeport.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_nginx_service_nonodeport.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_pod_kube_public_namespace.json": (1, 1, 0, 0, 0),
    "k8s_audit/falco/create_pod_kube_system_namespace.json": (1, 1, 0, 0, 0),
    "k8s_audit/falco/create_secret.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_service.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_service_account_token_secret.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_serviceaccount.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_serviceaccount_kube_public_namespace.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/create_serviceaccount_kube_system_namespace.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/delete_cluster_role_kube_aggregator.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/delete_clusterrole.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/delete_clusterrolebinding.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/delete_configmap.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/delete_deployment.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/delete_namespace_foo.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/delete_secret.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/delete_service.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/delete_serviceaccount.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/exec_pod.json": (1, 0, 0, 1, 0),
    "k8s_audit/falco/fal_01_003.json": (1, 0, 0, 0, 1),
    "k8s_audit/falco/minikube_creates_namespace_foo.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/modify_cluster_role_node_problem_detector.json": (1, 0, 1, 0, 0),
    "k8s_audit/falco/some-user_creates_namespace_foo.json": (1, 0, 1, 0, 0),
    "k8s_audit/panther-analysis/kubernetes_rules_tests.jsonl": (168, 0, 1, 0, 167),
    "mesh/elastic-integrations/envoyproxy-test-log.log": (7, 0, 7, 0, 0),
    "mesh/elastic-integrations/istio-test-access-failed.log": (8, 0, 7, 0, 1),
    "mesh/elastic-integrations/istio-test-access-json-logs.log": (3, 0, 2, 0, 1),
    "mesh/elastic-integrations/istio-test-access-logs.log": (8, 0, 8, 0, 0),
    "mesh/elastic-integrations/istio-test-access_container_logs.first4.log": (4, 0, 4, 0, 0),
    "mesh/elastic-integrations/istio-test-access_invalid_logs.log": (1, 0, 0, 0, 1),
    "mesh/istio-docs/sidecar-access-log-default-text.log": (2, 0, 2, 0, 0),
    "mesh/istio-docs/ztunnel-access-troubleshoot-ztunnel.log": (6, 6, 0, 0, 0),
}


@pytest.fixture(scope="module")
def baseline():
    return compile_baseline(load_baseline_file(REPO / "tests" / "data" / "corpus_baseline.yaml"), version=3)


def _corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md")


def _run(path: Path, baseline) -> tuple[int, BatchResult]:
    records = list(iter_records(read_input(str(path)), path.name, None))
    return len(records), enrich(records, baseline, EnrichState())


def test_the_table_lists_every_corpus_file(corpus):
    assert sorted(str(p.relative_to(corpus)) for p in _corpus_files()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_record_of_the_file_is_accounted_for(name, baseline, corpus):
    count, result = _run(corpus / name, baseline)
    got = (
        count,
        len(result.verdicts),
        sum(result.out_of_scope.values()),
        sum(result.skipped.values()) + result.duplicates,
        len(result.dead_letters),
    )
    assert got == EXPECTED[name]
    assert sum(got[1:]) >= count  # one record may hold many events, never none
    for dead in result.dead_letters:
        assert dead.error and dead.detail and dead.data


@pytest.fixture(scope="module")
def all_results(baseline) -> BatchResult:
    total = BatchResult()
    for path in _corpus_files():
        total.merge(_run(path, baseline)[1])
    return total


def test_the_corpus_yields_every_verdict_kind(all_results):
    kinds = Counter(v.verdict for v in all_results.verdicts)
    assert set(kinds) == {"expected", "overprivileged", "unauthorized_path", "drift"}
    reasons = {v.reason for v in all_results.verdicts}
    assert {
        "matched_entitlement",
        "access_model_change",
        "decommissioned_identity",
        "unapproved_system",
        "expired_entitlement",
        "unexpected_source",
        "denied_outside_baseline",
        "unknown_identity",
        "allowed_beyond_baseline",
        "approved_but_denied",
    } <= reasons


def test_every_verdict_validates_against_the_published_schema(all_results):
    schema = json.loads((REPO / "schemas" / "verdict.schema.json").read_text())
    validator = Draft202012Validator(schema)
    for verdict in all_results.verdicts:
        record = orjson.loads(serialize_verdict(verdict))
        errors = [e.message for e in validator.iter_errors(record)]
        assert not errors, (record, errors)


def test_every_alert_is_a_valid_ocsf_detection_finding(all_results):
    alerts = [v for v in all_results.verdicts if v.verdict != "expected"]
    assert alerts
    for verdict in alerts:
        finding = orjson.loads(orjson.dumps(to_detection_finding(verdict, product_version=__version__)))
        assert finding_errors(finding) == [], verdict


def test_verdict_ids_are_deterministic(baseline, corpus):
    path = corpus / "cloudtrail" / "stratus-red-team" / "aws.persistence.iam-create-admin-user.json"
    first = [v.verdict_id for v in _run(path, baseline)[1].verdicts]
    second = [v.verdict_id for v in _run(path, baseline)[1].verdicts]
    assert first == second and len(set(first)) == len(first)
