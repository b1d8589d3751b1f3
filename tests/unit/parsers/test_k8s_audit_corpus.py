"""Every Kubernetes audit record of the shared corpus parses, file by file, with known counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from enricher.core.events import (
    K8S_SERVICE_ACCOUNT,
    K8S_SYSTEM,
    K8S_USER,
    AccessChange,
    NormalizedEvent,
    Skipped,
)
from enricher.core.parsers.k8s_audit import parse_k8s_audit
from enricher.errors import ParseError

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "k8s_audit"
RECEIVED = datetime(2026, 3, 1, tzinfo=UTC)


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".json", ".log", ".jsonl"))


def corpus_values(path: Path) -> list[Any]:
    """A corpus file as the decoded values a Kafka message would carry: one JSON value per line."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def parse_file(path: Path, **kwargs: Any) -> list[NormalizedEvent | Skipped | ParseError]:
    return [item for value in corpus_values(path) for item in parse_k8s_audit(value, **kwargs)]


def tally(items: list[NormalizedEvent | Skipped | ParseError]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for item in items:
        if isinstance(item, NormalizedEvent):
            counts["event"] += 1
        elif isinstance(item, Skipped):
            counts[item.reason] += 1
        else:
            counts[item.reason] += 1
    return counts


# Falco trace files hold one event each except these.
FALCO_EXCEPTIONS: dict[str, dict[str, int]] = {
    "attach_pod.json": {"k8s_stage_responsestarted": 1},
    "exec_pod.json": {"k8s_stage_responsestarted": 1},
    "fal_01_003.json": {"k8s_not_an_event": 1},  # {"kind": 0}
    "create_configmap_sensitive_values.json": {"event": 6},
}
EXPECTED: dict[str, dict[str, int]] = {
    "audit2rbac/demo.log": {"event": 37},
    "elastic-integrations/test-audit.log": {"event": 5},
    "elastic-integrations/test-kube-audit.log": {"event": 1},
    # Panther's hand-written fixtures are trimmed: most lack every timestamp, five lack the verb
    "panther-analysis/kubernetes_rules_tests.jsonl": {
        "event": 1,
        "k8s_missing_time": 162,
        "k8s_missing_verb": 5,
    },
}


def expected_counts(path: Path) -> dict[str, int]:
    relative = path.relative_to(CORPUS).as_posix()
    if relative.startswith("falco/"):
        return FALCO_EXCEPTIONS.get(path.name, {"event": 1})
    return EXPECTED[relative]


def test_the_corpus_is_there() -> None:
    assert len(corpus_files()) == 51


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.relative_to(CORPUS).as_posix())
def test_corpus_file_counts(path: Path) -> None:
    items = parse_file(path)
    assert dict(tally(items)) == expected_counts(path)
    for item in items:
        if isinstance(item, ParseError):
            assert item.raw is not None  # the bad record itself is what gets dead-lettered
        if isinstance(item, NormalizedEvent):
            assert item.time.tzinfo is UTC
            assert item.resource
            assert item.boundary


def test_panther_with_a_receive_time() -> None:
    items = parse_file(CORPUS / "panther-analysis" / "kubernetes_rules_tests.jsonl", received=RECEIVED)
    assert dict(tally(items)) == {"event": 163, "k8s_missing_verb": 5}
    events = [item for item in items if isinstance(item, NormalizedEvent)]
    assert Counter(event.outcome for event in events) == Counter({"success": 126, "denied": 33, "error": 4})
    token_requests = [e for e in events if e.change is not None and e.change.category == "sa_token"]
    assert {e.change.target for e in token_requests if e.change is not None} >= {
        "system:serviceaccount:production:persistence-sa",
        "system:serviceaccount:kube-system:escalation-sa",
    }


def test_audit2rbac_impersonation() -> None:
    events = [e for e in parse_file(CORPUS / "audit2rbac" / "demo.log") if isinstance(e, NormalizedEvent)]
    assert {e.raw_principal for e in events} == {"system:admin"}
    assert all(e.via == ("system:admin",) for e in events)
    assert Counter(e.principal for e in events) == Counter(
        {"bob": 29, "system:serviceaccount:ns1:sa1": 5, "alice": 3}
    )
    assert Counter(e.outcome for e in events) == Counter({"success": 26, "denied": 11})
    first = events[0]
    assert (first.action, first.resource, first.error_code) == ("list", "default/core/pods", "Forbidden")
    discovery = [e.resource for e in events if e.resource.startswith("_nonresource")]
    assert "_nonresource/apis/rbac.authorization.k8s.io/v1" in discovery


def test_elastic_samples() -> None:
    events = [
        e
        for e in parse_file(CORPUS / "elastic-integrations" / "test-audit.log")
        if isinstance(e, NormalizedEvent)
    ]
    typo, agent, _, gke, aks = events
    assert (typo.principal, typo.principal_kind) == ("system:serviceaccounts:default:default", K8S_USER)
    assert (agent.principal_kind, agent.resource) == (
        K8S_SERVICE_ACCOUNT,
        "kube-system/coordination.k8s.io/leases/elastic-agent-cluster-test",
    )
    assert (gke.principal, gke.principal_kind, gke.resource, gke.cluster) == (
        "system:gke-master-healthcheck",
        K8S_SYSTEM,
        "_nonresource/readyz",
        "test-cluster",
    )
    assert (aks.principal, aks.action, aks.event_id) == ("aksService", "update", "abcde12345")
    [string_log] = parse_file(CORPUS / "elastic-integrations" / "test-kube-audit.log")
    assert isinstance(string_log, NormalizedEvent)
    assert string_log.resource == "kube-system/coordination.k8s.io/leases/kubelet-serving-csr-approver"


def test_falco_rbac_changes() -> None:
    changes = {}
    for path in sorted((CORPUS / "falco").glob("*.json")):
        for item in parse_file(path):
            if isinstance(item, NormalizedEvent) and item.change is not None:
                changes[path.name] = item.change
    binding = "_cluster/rbac.authorization.k8s.io/clusterrolebindings/some-reader-binding"
    assert changes == {
        "attach_cluster_admin_role.json": AccessChange("rbac", binding),
        "create_cluster_role_pod_exec.json": AccessChange(
            "rbac", "_cluster/rbac.authorization.k8s.io/clusterroles/some-reader"
        ),
        "create_cluster_role_wildcard_resources.json": AccessChange(
            "rbac", "_cluster/rbac.authorization.k8s.io/clusterroles/some-reader"
        ),
        "create_cluster_role_wildcard_verbs.json": AccessChange(
            "rbac", "_cluster/rbac.authorization.k8s.io/clusterroles/some-reader"
        ),
        "create_cluster_role_write_privileges.json": AccessChange(
            "rbac", "_cluster/rbac.authorization.k8s.io/clusterroles/some-reader"
        ),
        "create_clusterrole.json": AccessChange(
            "rbac", "_cluster/rbac.authorization.k8s.io/clusterroles/some-reader"
        ),
        "create_clusterrolebinding.json": AccessChange("rbac", binding),
        "delete_cluster_role_kube_aggregator.json": AccessChange(
            "rbac", "_cluster/rbac.authorization.k8s.io/clusterroles/system:kube-aggregator"
        ),
        "delete_clusterrole.json": AccessChange(
            "rbac", "_cluster/rbac.authorization.k8s.io/clusterroles/some-reader"
        ),
        "delete_clusterrolebinding.json": AccessChange("rbac", binding),
        "modify_cluster_role_node_problem_detector.json": AccessChange(
            "rbac", "_cluster/rbac.authorization.k8s.io/clusterroles/system:node-problem-detector"
        ),
    }


def test_falco_namespace_create_and_delete_agree() -> None:
    [created] = parse_file(CORPUS / "falco" / "minikube_creates_namespace_foo.json")
    [deleted] = parse_file(CORPUS / "falco" / "delete_namespace_foo.json")
    assert isinstance(created, NormalizedEvent) and isinstance(deleted, NormalizedEvent)
    assert created.resource == deleted.resource == "_cluster/core/namespaces/foo"


def test_every_corpus_record_is_an_event_a_skip_or_a_dead_letter() -> None:
    total = Counter[str]()
    for path in corpus_files():
        total.update(tally(parse_file(path)))
    records = sum(len(corpus_values(path)) for path in corpus_files())
    assert sum(total.values()) == records == 263
