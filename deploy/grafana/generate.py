"""Build the provisioned Grafana dashboards (classic dashboard JSON) from the definitions below.

    python deploy/grafana/generate.py           # rewrite deploy/grafana/dashboards/*.json
    python deploy/grafana/generate.py --check   # exit 1 if a committed file is not what this builds

Plain dicts, no dashboard SDK: the panels are few and the JSON model is stable. Every query uses
the ``${datasource}`` variable, and tests/unit/test_dashboards.py parses each expression and checks
its metric names against ``enricher.adapters.metrics.Metrics``. The job names are those of
deploy/prometheus/prometheus.yml.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
WORKER = 'job="enricher-worker"'
SINK = 'job="enricher-sink"'
API = 'job="enricher-api"'
RI = "$__rate_interval"
ALERT = 'verdict!="expected"'
SCHEMA_VERSION = 39

Panel = dict[str, Any]


# ------------------------------------------------------------------------------------- helpers


def target(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False) -> dict[str, Any]:
    """One Prometheus query of a panel."""
    out: dict[str, Any] = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        out.update(instant=True, range=False, format="table")
    else:
        out.update(range=True)
    return out


def targets(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    """Several range queries, lettered A, B, C..."""
    return [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(pairs)]


def timeseries(
    title: str,
    queries: list[dict[str, Any]],
    *,
    unit: str = "short",
    description: str = "",
    stack: str | None = None,
    width: int = 12,
    height: int = 8,
    max_value: float | None = None,
    threshold: float | None = None,
) -> Panel:
    """A time-series panel; ``stack`` is "normal" or "percent"; ``threshold`` draws a red line."""
    custom: dict[str, Any] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    if stack:
        custom.update(stacking={"mode": stack, "group": "A"}, fillOpacity=60)
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if threshold is not None:
        steps.append({"color": "red", "value": threshold})
        custom["thresholdsStyle"] = {"mode": "line"}
    defaults: dict[str, Any] = {
        "unit": unit,
        "custom": custom,
        "thresholds": {"mode": "absolute", "steps": steps},
    }
    if max_value is not None:
        defaults.update(min=0, max=max_value)
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": queries,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "_w": width,
        "_h": height,
    }


def stat(
    title: str, query: dict[str, Any], *, unit: str = "short", description: str = "", width: int = 6
) -> Panel:
    """A single-value panel (last value)."""
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [query],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
        },
        "_w": width,
        "_h": 5,
    }


def table(title: str, expr: str, value_name: str, *, description: str = "", width: int = 8) -> Panel:
    """An instant-query table: label columns plus the value, sorted by the value."""
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, instant=True)],
        "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
        "options": {"showHeader": True, "sortBy": [{"displayName": value_name, "desc": True}]},
        "transformations": [
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": value_name}},
            }
        ],
        "_w": width,
        "_h": 9,
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_w": 24, "_h": 1}


def rate(metric: str, selector: str, by: str = "") -> str:
    """``sum [by (...)] (rate(metric{selector}[$__rate_interval]))``."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{{{selector}}}[{RI}]))"


def quantile(q: float, metric: str, selector: str, by: str = "") -> str:
    grouping = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({grouping}) (rate({metric}{{{selector}}}[{RI}])))"


def layout(panels: list[Panel]) -> list[Panel]:
    """Place panels left to right on Grafana's 24-column grid, wrapping rows; give them ids."""
    x = y = line_height = 0
    out = []
    for pid, panel in enumerate(panels, start=1):
        w, h = panel.pop("_w"), panel.pop("_h")
        if x + w > 24 or panel["type"] == "row":
            x, y, line_height = 0, y + line_height, 0
        panel["id"] = pid
        panel["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x += w
        line_height = max(line_height, h)
        if panel["type"] == "row":
            x, y, line_height = 0, y + h, 0
        out.append(panel)
    return out


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {"selected": False, "text": "Prometheus", "value": "prometheus"},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def source_variable() -> dict[str, Any]:
    return {
        "name": "source",
        "label": "Source",
        "type": "custom",
        "query": "cloudtrail,k8s_audit,mesh",
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
    }


def dashboard(
    uid: str, title: str, description: str, panels: list[Panel], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["enricher"],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["enricher"],
                "title": "Enricher dashboards",
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": layout(panels),
    }


# -------------------------------------------------------------------------------- the dashboards

VERDICTS = "enricher_verdicts_total"
BY_SCOPE = "enricher_verdicts_by_scope_total"
SRC = f'{WORKER}, source=~"$source"'


def share(metric: str, selector: str, by: str) -> str:
    """Share of non-expected verdicts among all verdicts, per ``by``."""
    return f"{rate(metric, f'{selector}, {ALERT}', by)} / {rate(metric, selector, by)}"


def drift_dashboard() -> dict[str, Any]:
    drift_help = (
        "Drift rate: the share of judged events whose verdict is not `expected` "
        "(overprivileged, unauthorized_path or drift), i.e. runtime behaviour that departs from the baseline."
    )
    panels = [
        row("Drift rate (share of events that depart from the baseline)"),
        timeseries(
            "Drift rate by source",
            [target(share(VERDICTS, SRC, "source"), "{{source}}")],
            unit="percentunit",
            description=drift_help,
            width=16,
        ),
        stat(
            "Drift rate, all sources",
            target(share(VERDICTS, SRC, "")),
            unit="percentunit",
            description=drift_help,
            width=8,
        ),
        timeseries(
            "Drift rate by AWS account",
            [target(share(BY_SCOPE, f'{WORKER}, source="cloudtrail"', "scope"), "{{scope}}")],
            unit="percentunit",
            description="CloudTrail verdicts by recipient account. Each worker labels the first 50 accounts it "
            "sees; later ones are summed under `_other` (see docs/observability.md).",
        ),
        timeseries(
            "Drift rate by namespace",
            [
                target(
                    share(BY_SCOPE, f'{WORKER}, source=~"k8s_audit|mesh"', "source, scope"),
                    "{{source}} {{scope}}",
                )
            ],
            unit="percentunit",
            description="Kubernetes audit and mesh verdicts by namespace (`_cluster`: cluster-scoped objects; "
            "`_other`: past the first 50 namespaces per worker).",
        ),
        table(
            "AWS accounts with the most alerts (time range)",
            f'topk(10, sum by (scope) (increase({BY_SCOPE}{{{WORKER}, source="cloudtrail", {ALERT}}}[$__range])))',
            "alerts",
            width=12,
        ),
        table(
            "Namespaces with the most alerts (time range)",
            f'topk(10, sum by (source, scope) (increase({BY_SCOPE}{{{WORKER}, source=~"k8s_audit|mesh", {ALERT}}}[$__range])))',
            "alerts",
            width=12,
        ),
        row("Verdict mix"),
        timeseries(
            "Verdict mix over time",
            [target(rate(VERDICTS, SRC, "verdict"), "{{verdict}}")],
            unit="ops",
            stack="percent",
            description="Share of each verdict among the verdicts produced.",
        ),
        timeseries(
            "Alerts by verdict and reason",
            [target(rate(VERDICTS, f"{SRC}, {ALERT}", "verdict, reason"), "{{verdict}} / {{reason}}")],
            unit="ops",
            stack="normal",
        ),
        timeseries(
            "Overprivileged rate",
            [
                target(
                    rate(VERDICTS, f'{SRC}, verdict="overprivileged"', "source, reason"),
                    "{{source}} / {{reason}}",
                )
            ],
            unit="ops",
            description="Allowed calls no entitlement covers (`allowed_beyond_baseline`) and periodic "
            "`unused_entitlement` findings.",
            width=8,
        ),
        timeseries(
            "Unauthorized-path rate",
            [target(rate(VERDICTS, f'{SRC}, verdict="unauthorized_path"', "reason"), "{{reason}}")],
            unit="ops",
            description="Unknown or decommissioned identities, denied probes, boundary crossings, expired "
            "grants, unexpected sources.",
            width=8,
        ),
        timeseries(
            "Access-model changes and disagreements (verdict drift)",
            [target(rate(VERDICTS, f'{SRC}, verdict="drift"', "source, reason"), "{{source}} / {{reason}}")],
            unit="ops",
            width=8,
        ),
        row("Top offenders (alerts in the last hour, top 10 per verdict on each worker)"),
        *(
            table(
                f"Top {label} identities",
                f'topk(10, sum by (identity) (enricher_top_offender_alerts{{{WORKER}, verdict="{verdict}"}}))',
                "alerts (1 h)",
                description="Identity id, or the raw principal for an unknown identity. Each worker publishes "
                "its own top 10 every 30 s; summed over workers (a lower bound for identities outside "
                "some worker's top 10).",
            )
            for verdict, label in (
                ("overprivileged", "overprivileged"),
                ("unauthorized_path", "unauthorized-path"),
                ("drift", "drift"),
            )
        ),
    ]
    return dashboard(
        "enricher-drift",
        "Enricher / Drift and verdicts",
        "Drift rate by source, AWS account and namespace; verdict mix; top offending identities.",
        panels,
        [datasource_variable(), source_variable()],
    )


def pipeline_dashboard() -> dict[str, Any]:
    latency = "enricher_enrich_latency_seconds_bucket"
    panels = [
        row("Throughput and input quality"),
        timeseries(
            "Events parsed by source",
            [target(rate("enricher_events_total", SRC, "source"), "{{source}}")],
            unit="ops",
        ),
        timeseries(
            "Dead letters by source and error",
            [target(rate("enricher_deadletter_total", SRC, "source, error"), "{{source}} / {{error}}")],
            unit="ops",
        ),
        timeseries(
            "Dead-letter ratio by source",
            [
                target(
                    f"{rate('enricher_deadletter_total', SRC, 'source')} / "
                    f"({rate('enricher_events_total', SRC, 'source')} + {rate('enricher_deadletter_total', SRC, 'source')})",
                    "{{source}}",
                )
            ],
            unit="percentunit",
            description="Records that could not be parsed, among all records read.",
            width=8,
        ),
        timeseries(
            "Out of scope (counted, not judged)",
            [target(rate("enricher_out_of_scope_total", SRC, "source, why"), "{{source}} / {{why}}")],
            unit="ops",
            width=8,
        ),
        timeseries(
            "Dropped by design",
            [target(rate("enricher_dropped_total", WORKER, "reason"), "{{reason}}")],
            unit="ops",
            description="Digest files, non-final audit stages, duplicates (redeliveries, the second sidecar line).",
            width=8,
        ),
        row("Latency"),
        timeseries(
            "Event to verdict latency",
            targets(
                (quantile(0.5, latency, WORKER), "p50"),
                (quantile(0.95, latency, WORKER), "p95"),
                (quantile(0.99, latency, WORKER), "p99"),
            ),
            unit="s",
            threshold=0.05,
            description="From the raw record's Kafka timestamp to its verdict acknowledged by the broker. "
            "Target: p99 <= 50 ms at 5,000 events/s (red line).",
        ),
        timeseries(
            "Batch duration",
            targets(
                (quantile(0.5, "enricher_batch_seconds_bucket", WORKER), "p50"),
                (quantile(0.99, "enricher_batch_seconds_bucket", WORKER), "p99"),
            ),
            unit="s",
            description="Wall time of one consume-enrich-produce-commit batch.",
        ),
        row("Kafka"),
        timeseries(
            "Consumer lag per partition",
            [
                target(
                    "sum by (job, topic, partition) (enricher_consumer_lag)",
                    "{{job}} {{topic}}[{{partition}}]",
                )
            ],
            unit="short",
            description="Records behind the end of each assigned partition, reported every 5 s by its owner "
            "(workers: raw topics; sink: the verdicts topic).",
            width=16,
        ),
        stat(
            "Processes up",
            target('sum by (job) (up{job=~"enricher-.*"})', "{{job}}"),
            description="Scrape targets answering, per job.",
            width=8,
        ),
        timeseries(
            "Produce errors (batches retried)",
            [target(rate("enricher_produce_errors_total", WORKER, "instance"), "{{instance}}")],
            unit="ops",
            width=12,
        ),
        timeseries(
            "Verdicts produced",
            [target(rate("enricher_verdicts_total", SRC, "instance"), "{{instance}}")],
            unit="ops",
            width=12,
        ),
        row("Baseline"),
        timeseries(
            "Baseline version per worker",
            [target(f"max by (instance) (enricher_baseline_version{{{WORKER}}})", "{{instance}}")],
            description="Every worker should show the same version within 2 s of a change.",
            width=8,
        ),
        timeseries(
            "Baseline age",
            [target(f"max by (instance) (enricher_baseline_age_seconds{{{WORKER}}})", "{{instance}}")],
            unit="s",
            threshold=60,
            description="Seconds since each worker last confirmed its baseline current with the store "
            "(polled every 0.5 s; grows while the store is unreachable).",
            width=8,
        ),
        timeseries(
            "Baseline size",
            targets(
                (f"max(enricher_baseline_entitlements{{{WORKER}}})", "entitlements"),
                (f"max(enricher_baseline_identities{{{WORKER}}})", "identities"),
            ),
            width=8,
        ),
        row("Verdict sink and HTTP API"),
        timeseries(
            "Sink writes",
            targets(
                (rate("enricher_sink_writes_total", SINK, "result"), "{{result}}"),
                (rate("enricher_sink_write_errors_total", SINK), "store unavailable"),
                (rate("enricher_sink_rejected_total", SINK), "rejected records"),
            ),
            unit="ops",
            width=8,
        ),
        timeseries(
            "Sink write duration",
            targets(
                (quantile(0.5, "enricher_sink_write_seconds_bucket", SINK), "p50"),
                (quantile(0.99, "enricher_sink_write_seconds_bucket", SINK), "p99"),
            ),
            unit="s",
            width=8,
        ),
        timeseries(
            "API requests by route and status",
            [target(rate("enricher_api_requests_total", API, "route, status"), "{{route}} {{status}}")],
            unit="reqps",
            width=8,
        ),
        timeseries(
            "API latency p95 by route",
            [target(quantile(0.95, "enricher_api_request_seconds_bucket", API, "route"), "{{route}}")],
            unit="s",
            width=24,
        ),
    ]
    return dashboard(
        "enricher-pipeline",
        "Enricher / Pipeline health",
        "Throughput, dead letters, latency, consumer lag, baseline freshness, sink and API.",
        panels,
        [datasource_variable(), source_variable()],
    )


DASHBOARDS = {"enricher-drift.json": drift_dashboard, "enricher-pipeline.json": pipeline_dashboard}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    OUT.mkdir(exist_ok=True)
    for name, build in DASHBOARDS.items():
        path = OUT / name
        text = render(build)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python deploy/grafana/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
