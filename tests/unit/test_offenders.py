"""Bounded views of the alerts: drift by scope (capped) and the top-offender window."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from functools import cache

import pytest

from bench.workload import generate_records
from enricher.adapters.metrics import Metrics
from enricher.adapters.offenders import (
    CLUSTER_SCOPE,
    OTHER,
    UNKNOWN_SCOPE,
    ScopeLabels,
    TopOffenders,
    VerdictView,
)
from enricher.core.baseline import compile_baseline
from enricher.core.pipeline import EnrichState, RawRecord, enrich
from enricher.core.synthetic import generate_baseline
from enricher.core.verdict import Verdict


class FakeClock:
    def __init__(self, now: float = 10_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@cache
def workload_verdicts() -> tuple[Verdict, ...]:
    """Verdicts of the corpus-shaped bench workload (every rule fires), judged by the pure core."""
    doc = generate_baseline(200, 6, seed=11)
    records = [RawRecord(raw, None) for raw in generate_records(doc, 4000, seed=12)]
    return tuple(enrich(records, compile_baseline(doc, 1), EnrichState()).verdicts)


def samples(metrics: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Current samples of one metric family, keyed by their sorted labels."""
    out = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


# ------------------------------------------------------------------------------------ scopes


def test_each_source_admits_its_first_scopes_then_counts_the_rest_as_other():
    labels = ScopeLabels(limit=2)
    assert labels.label("cloudtrail", "111122223333") == "111122223333"
    assert labels.label("cloudtrail", "444455556666") == "444455556666"
    assert labels.label("cloudtrail", "777788889999") == OTHER
    # an admitted scope keeps its label after the cap is reached
    assert labels.label("cloudtrail", "111122223333") == "111122223333"
    # the cap is per source
    assert labels.label("k8s_audit", "payments") == "payments"
    assert labels.label("mesh", "payments") == "payments"


def test_a_missing_scope_is_the_cluster_for_kubernetes_and_unknown_elsewhere():
    labels = ScopeLabels(limit=1)
    assert labels.label("k8s_audit", None) == CLUSTER_SCOPE
    assert labels.label("mesh", None) == UNKNOWN_SCOPE
    assert labels.label("cloudtrail", None) == UNKNOWN_SCOPE
    # neither takes a place under the cap
    assert labels.label("k8s_audit", "orders") == "orders"


def test_verdicts_by_scope_count_accounts_and_namespaces_exactly_while_under_the_cap():
    verdicts = workload_verdicts()
    metrics = Metrics()
    view = VerdictView(metrics, scope_limit=1000)
    view.observe(verdicts[:1500])
    view.observe(verdicts[1500:])
    expected = Counter(
        (v.source, v.verdict, (v.account if v.source == "cloudtrail" else v.namespace) or CLUSTER_SCOPE)
        for v in verdicts
    )
    got = {
        (dict(k)["source"], dict(k)["verdict"], dict(k)["scope"]): v
        for k, v in samples(metrics, "enricher_verdicts_by_scope_total").items()
    }
    assert got == expected
    assert {s for s, _, _ in got} == {"cloudtrail", "k8s_audit", "mesh"}
    assert any(scope.isdigit() and len(scope) == 12 for _, _, scope in got)  # AWS accounts


def test_verdicts_by_scope_series_stay_bounded_when_scopes_are_many():
    base = workload_verdicts()
    # 500 distinct AWS accounts and namespaces: far past the cap
    many = [
        dataclasses.replace(
            v,
            account=f"{100000000000 + i % 500}" if v.source == "cloudtrail" else None,
            namespace=f"ns-{i % 500}",
        )
        for i, v in enumerate(base)
    ]
    metrics = Metrics()
    view = VerdictView(metrics, scope_limit=5)
    view.observe(many)
    got = samples(metrics, "enricher_verdicts_by_scope_total")
    scopes_by_source: dict[str, set[str]] = {}
    for key in got:
        labels = dict(key)
        scopes_by_source.setdefault(labels["source"], set()).add(labels["scope"])
    for scopes in scopes_by_source.values():
        assert OTHER in scopes
        assert len(scopes - {OTHER}) == 5
    assert sum(got.values()) == len(many)  # nothing lost, only folded into "_other"


# ------------------------------------------------------------------------------ top offenders


def test_top_offenders_publish_only_the_top_ten_per_verdict_and_remove_the_rest():
    metrics = Metrics()
    clock = FakeClock()
    top = TopOffenders(metrics.top_offender_alerts, clock=clock)
    top.add({(f"id-{i:03d}", "overprivileged"): i for i in range(1, 51)})
    top.add({(f"id-{i:03d}", "unauthorized_path"): 100 - i for i in range(1, 51)})
    top.publish()
    got = samples(metrics, "enricher_top_offender_alerts")
    assert len(got) == 20
    over = {dict(k)["identity"]: v for k, v in got.items() if dict(k)["verdict"] == "overprivileged"}
    assert over == {f"id-{i:03d}": float(i) for i in range(41, 51)}
    unauth = {dict(k)["identity"] for k, v in got.items() if dict(k)["verdict"] == "unauthorized_path"}
    assert unauth == {f"id-{i:03d}" for i in range(1, 11)}
    # a new leader displaces the tenth entry, whose series disappears
    top.add({("newcomer", "overprivileged"): 1000})
    top.publish()
    got = samples(metrics, "enricher_top_offender_alerts")
    over = {dict(k)["identity"] for k in got if dict(k)["verdict"] == "overprivileged"}
    assert "newcomer" in over and "id-041" not in over and len(over) == 10


def test_counts_leave_the_window_bucket_by_bucket():
    metrics = Metrics()
    clock = FakeClock(now=3600.0 * 10)
    top = TopOffenders(metrics.top_offender_alerts, window_s=3600, bucket_s=60, clock=clock)
    top.add({("payments-api", "drift"): 3})
    clock.now += 1800
    top.add({("payments-api", "drift"): 4, ("ledger", "drift"): 1})
    assert top.top() == {"drift": [("payments-api", 7), ("ledger", 1)]}
    clock.now += 1800  # the first batch's bucket is now an hour old
    assert top.top() == {"drift": [("payments-api", 4), ("ledger", 1)]}
    clock.now += 1800
    top.publish()
    assert top.top() == {}
    assert samples(metrics, "enricher_top_offender_alerts") == {}


def test_identities_past_the_tracking_cap_are_counted_as_other():
    metrics = Metrics()
    top = TopOffenders(metrics.top_offender_alerts, max_tracked=3, clock=FakeClock())
    top.add({(f"shadow-{i}", "unauthorized_path"): 1 for i in range(10)})
    ranking = dict(top.top()["unauthorized_path"])
    assert ranking[OTHER] == 7
    assert len(ranking) == 4


def test_the_view_ranks_alerts_by_identity_or_raw_principal_and_never_expected_ones():
    verdicts = workload_verdicts()
    metrics = Metrics()
    view = VerdictView(metrics)
    for start in range(0, len(verdicts), 1000):
        view.observe(verdicts[start : start + 1000])
    view.offenders.publish()
    got = samples(metrics, "enricher_top_offender_alerts")
    assert 0 < len(got) <= 30
    assert {dict(k)["verdict"] for k in got} == {"overprivileged", "unauthorized_path", "drift"}
    truth = Counter((v.identity or v.principal, v.verdict) for v in verdicts if v.verdict != "expected")
    for key, value in got.items():
        labels = dict(key)
        assert truth[labels["identity"], labels["verdict"]] == value
    for verdict in ("overprivileged", "unauthorized_path", "drift"):
        ranked = sorted((n for (_, v), n in truth.items() if v == verdict), reverse=True)
        shown = sorted((n for k, n in got.items() if dict(k)["verdict"] == verdict), reverse=True)
        assert shown == ranked[: len(shown)] and len(shown) == min(10, len(ranked))


def test_an_unknown_identity_is_ranked_under_its_raw_principal():
    alert = next(v for v in workload_verdicts() if v.reason == "unknown_identity")
    assert alert.identity is None
    shadow = "spiffe://cluster.local/ns/payments/sa/debug-shell"
    metrics = Metrics()
    view = VerdictView(metrics)
    view.observe(
        [dataclasses.replace(alert, principal=shadow, session=None)] * 100 + list(workload_verdicts())
    )
    assert view.offenders.top()["unauthorized_path"][0] == (shadow, 100)


def test_an_unknown_assumed_role_is_ranked_once_whatever_its_sessions():
    alert = next(
        v for v in workload_verdicts() if v.reason == "unknown_identity" and v.source == "cloudtrail"
    )
    role = "arn:aws:sts::444455556666:assumed-role/github-actions-deploy"
    sessions = [f"GitHubActions-{i}" for i in range(60)]
    calls = [dataclasses.replace(alert, principal=f"{role}/{s}", session=s) for s in sessions]
    view = VerdictView(Metrics())
    view.observe(calls + list(workload_verdicts()))
    assert view.offenders.top()["unauthorized_path"][0] == (role, 60)
    # a principal that merely ends like its session keeps its name
    user = dataclasses.replace(alert, principal="arn:aws:iam::444455556666:user/ci", session="ci")
    view = VerdictView(Metrics())
    view.observe([user] * 100)
    assert view.offenders.top()["unauthorized_path"] == [("arn:aws:iam::444455556666:user/ci", 100)]


def test_the_publisher_thread_shows_the_first_offenders_within_a_second():
    metrics = Metrics()
    top = TopOffenders(metrics.top_offender_alerts)
    top.start(every_s=30)
    try:
        top.add({("payments-api", "drift"): 2})
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not samples(metrics, "enricher_top_offender_alerts"):
            time.sleep(0.05)
        assert samples(metrics, "enricher_top_offender_alerts") == {
            (("identity", "payments-api"), ("verdict", "drift")): 2.0
        }
    finally:
        top.stop()


@pytest.mark.parametrize("batches", [1, 7])
def test_observe_accepts_any_batching(batches):
    verdicts = workload_verdicts()
    whole, split = Metrics(), Metrics()
    VerdictView(whole).observe(verdicts)
    view = VerdictView(split)
    size = len(verdicts) // batches + 1
    for start in range(0, len(verdicts), size):
        view.observe(verdicts[start : start + size])
    assert samples(whole, "enricher_verdicts_by_scope_total") == samples(
        split, "enricher_verdicts_by_scope_total"
    )
