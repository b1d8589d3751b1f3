"""Offline checks of deploy/grafana and deploy/prometheus: every dashboard and rule parses, every
query is valid PromQL over metrics the service really exports, with labels they really carry."""

from __future__ import annotations

import re
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from enricher.adapters.metrics import Metrics
from tests.unit.dashboard_files import (
    DASHBOARDS,
    DOCS,
    GRAFANA,
    PROMETHEUS,
    alerts,
    dashboard_queries,
    dashboards,
    load_generator,
    metric_names,
    panels,
    recorded_names,
    rule_groups,
    rules,
    selectors,
    walk,
)

QUERIES = dashboard_queries()
ALERTS = alerts()
SYNTHETIC = {"up"}  # written by Prometheus itself for every target
EVERY_TARGET = {"job", "instance"}  # labels Prometheus adds to every scraped series


def exported() -> dict[str, tuple[str, ...]]:
    """Every series name the service exports -> the labels it carries (as Prometheus stores it)."""
    out: dict[str, tuple[str, ...]] = {}
    for metric in vars(Metrics()).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        name, labels, kind = metric._name, tuple(metric._labelnames), metric._type
        if kind == "counter":
            out[f"{name}_total"] = labels
        elif kind == "histogram":
            out[f"{name}_bucket"] = (*labels, "le")
            out[f"{name}_sum"] = labels
            out[f"{name}_count"] = labels
        else:
            out[name] = labels
    return out


EXPORTED = exported()


def registry_names() -> set[str]:
    """The same names read from the registry's own description (the exposition view)."""
    names = set()
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def test_the_metric_walk_sees_the_registry():
    assert set(EXPORTED) == registry_names()
    assert {
        "enricher_events_total",
        "enricher_verdicts_total",
        "enricher_deadletter_total",
        "enricher_enrich_latency_seconds_bucket",
        "enricher_baseline_version",
        "enricher_baseline_entitlements",
        "enricher_baseline_age_seconds",
        "enricher_consumer_lag",
        "enricher_verdicts_by_scope_total",
        "enricher_top_offender_alerts",
    } <= set(EXPORTED)


def test_spec_metrics_carry_the_spec_labels():
    assert EXPORTED["enricher_events_total"] == ("source",)
    assert EXPORTED["enricher_verdicts_total"] == ("source", "verdict", "reason")
    assert EXPORTED["enricher_deadletter_total"] == ("source", "error")
    assert EXPORTED["enricher_consumer_lag"] == ("topic", "partition")
    assert EXPORTED["enricher_enrich_latency_seconds_bucket"] == ("le",)
    for gauge in (
        "enricher_baseline_version",
        "enricher_baseline_entitlements",
        "enricher_baseline_age_seconds",
    ):
        assert EXPORTED[gauge] == ()


def test_no_per_event_series_is_labelled_by_identity_principal_or_resource():
    unbounded = {"identity", "principal", "resource", "event_id", "account", "namespace", "session"}
    for name, labels in EXPORTED.items():
        if name == "enricher_top_offender_alerts":
            continue  # a top-10 gauge rewritten every 30 s, never a per-event series
        assert not unbounded & set(labels), name


def test_latency_buckets_resolve_a_50_ms_p99():
    from enricher.adapters.metrics import LATENCY_BUCKETS

    assert 0.05 in LATENCY_BUCKETS
    around = [b for b in LATENCY_BUCKETS if 0.02 <= b <= 0.1]
    assert len(around) >= 5  # 20, 30, 40, 50, 75, 100 ms: a p99 near the target is interpolated finely


# ------------------------------------------------------------------------------------ dashboards


def test_the_committed_dashboards_are_what_the_generator_builds():
    generator = load_generator()
    assert set(generator.DASHBOARDS) == {p.name for p in DASHBOARDS.glob("*.json")}
    for name, build in generator.DASHBOARDS.items():
        assert (DASHBOARDS / name).read_text() == generator.render(build), (
            f"{name} is stale: run python deploy/grafana/generate.py"
        )


def test_dashboards_are_well_formed():
    found = dashboards()
    assert set(found) == {"enricher-drift.json", "enricher-pipeline.json"}
    assert len({d["uid"] for d in found.values()}) == len(found)
    for name, dashboard in found.items():
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        ids = [p["id"] for p in panels(dashboard)]
        assert len(ids) == len(set(ids)), name
        cells: set[tuple[int, int]] = set()
        for panel in panels(dashboard):
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, (name, panel["title"])
            mine = {
                (x, y)
                for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])
            }
            assert not mine & cells, f"{name}: {panel['title']} overlaps another panel"
            cells |= mine
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
                assert target["refId"]


def test_the_dashboards_cover_what_the_spec_and_the_runbook_need():
    titles = {panel["title"] for dashboard in dashboards().values() for panel in panels(dashboard)}
    for wanted in (
        "Drift rate by source",
        "Drift rate by AWS account",
        "Drift rate by namespace",
        "Verdict mix over time",
        "Overprivileged rate",
        "Unauthorized-path rate",
        "Top overprivileged identities",
        "Top unauthorized-path identities",
        "Dead letters by source and error",
        "Event to verdict latency",
        "Consumer lag per partition",
        "Baseline version per worker",
        "Baseline age",
        "Sink writes",
        "API requests by route and status",
    ):
        assert wanted in titles
    latency = next(q for q in QUERIES if q.panel == "Event to verdict latency" and q.ref == "C")
    assert latency.expr.startswith("histogram_quantile(0.99,")


@pytest.mark.parametrize("query", QUERIES, ids=str)
def test_every_dashboard_query_is_promql_over_exported_metrics(query):
    promql = query.promql
    assert "$" not in promql, f"an unsubstituted Grafana variable in {query}"
    promql_parser.parse(promql)  # raises on a syntax error
    assert metric_names(promql) <= set(EXPORTED) | SYNTHETIC
    check_labels(promql)


def check_labels(promql: str) -> None:
    """Matchers and ``by`` clauses only name labels the selected metrics carry."""
    tree = promql_parser.parse(promql)
    carried: set[str] = set(EVERY_TARGET)
    for selector in selectors(promql):
        labels = set(EXPORTED.get(selector.name, ())) | EVERY_TARGET
        for matcher in selector.matchers.matchers:
            assert matcher.name in labels, f"{selector.name} has no label {matcher.name!r}: {promql}"
        carried |= labels
    for node in walk(tree):
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            assert set(node.modifier.labels) <= carried, f"grouping by a label no metric has: {promql}"


def test_a_broken_expression_or_an_unknown_metric_is_caught():
    with pytest.raises(Exception):  # noqa: B017  (promql-parser raises a plain ValueError-like error)
        promql_parser.parse("sum(rate(enricher_events_total[1m])")
    assert not metric_names("rate(enricher_event_total[1m])") <= set(EXPORTED)
    with pytest.raises(AssertionError):
        check_labels('sum by (verdict) (rate(enricher_events_total{reason="x"}[1m]))')


# ----------------------------------------------------------------------------- alert rules


def test_rules_are_promql_over_exported_or_recorded_metrics():
    recorded = recorded_names()
    assert recorded
    for rule in rules():
        expr = rule["expr"]
        assert "$" not in expr
        promql_parser.parse(expr)
        assert metric_names(expr) <= set(EXPORTED) | SYNTHETIC | recorded, rule.get(
            "alert", rule.get("record")
        )
        if not metric_names(expr) & recorded:
            check_labels(expr)


def test_every_alert_waits_is_labelled_and_annotated():
    names = [rule["alert"] for rule in ALERTS]
    assert len(names) == len(set(names))
    assert {
        "EnricherDriftSpike",
        "EnricherUnknownIdentityBurst",
        "EnricherDeadLetterRate",
        "EnricherConsumerLagGrowing",
        "EnricherBaselineStale",
        "EnricherWorkerDown",
    } <= set(names)
    for rule in ALERTS:
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert {"summary", "description", "runbook"} <= set(rule["annotations"])
        assert rule["annotations"]["runbook"] == f"docs/observability.md#{rule['alert'].lower()}"


def test_every_alert_has_a_runbook_entry_in_the_docs():
    docs = DOCS.read_text()
    headings = {line.lstrip("#").strip() for line in docs.splitlines() if line.startswith("#")}
    for rule in ALERTS:
        assert rule["alert"] in headings, f"docs/observability.md has no heading for {rule['alert']}"


def test_the_docs_list_every_exported_metric():
    docs = DOCS.read_text()
    for name in EXPORTED:
        base = (
            re.sub(r"_(bucket|sum|count)$", "", name)
            if name.endswith(("_bucket", "_sum", "_count"))
            else name
        )
        assert f"`{base}`" in docs or f"`{base}{{" in docs, f"docs/observability.md does not list {base}"


def test_rule_groups_are_named_and_the_worker_down_alert_uses_up():
    assert all(group["name"] and group["rules"] for group in rule_groups())
    down = next(rule for rule in ALERTS if rule["alert"] == "EnricherWorkerDown")
    assert down["expr"].strip() == 'up{job="enricher-worker"} == 0'


# ----------------------------------------------------------------- provisioning and scraping


def load_yaml(path: Any) -> Any:
    return yaml.safe_load(path.read_text())


def test_grafana_provisioning_points_at_the_dashboards_and_the_prometheus_uid():
    sources = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yaml")
    assert sources["apiVersion"] == 1
    (prometheus,) = sources["datasources"]
    assert prometheus["type"] == "prometheus" and prometheus["uid"] == "prometheus"
    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "enricher.yaml")
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    for dashboard in dashboards().values():
        variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
        assert variable["current"]["value"] == prometheus["uid"]


def test_prometheus_scrapes_the_jobs_the_queries_select():
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"enricher-worker", "enricher-sink", "enricher-api"}
    assert jobs["enricher-api"]["authorization"]["credentials_file"]
    assert config["rule_files"] == ["rules/*.yml"]
    used = set()
    for expr in [q.promql for q in QUERIES] + [rule["expr"] for rule in rules()]:
        used.update(re.findall(r'job="([^"]+)"', expr))
    assert used <= set(jobs)
