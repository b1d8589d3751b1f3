"""The observability files under deploy/ as test data: dashboard queries, alert rules, PromQL walks.

Shared by tests/unit/test_dashboards.py (offline checks) and tests/integration/test_observability.py
(every query against a real Prometheus scraping a real run).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import promql_parser
import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
PROMETHEUS = REPO / "deploy" / "prometheus"
DASHBOARDS = GRAFANA / "dashboards"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
DOCS = REPO / "docs" / "observability.md"

# What Grafana puts in place of its variables when it sends a query (test values: the integration
# run lasts well under a minute, so a one-minute rate window covers all of it).
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "${source}": ".*",
    "$source": ".*",
}


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard panel."""

    dashboard: str
    panel: str
    ref: str
    expr: str

    @property
    def promql(self) -> str:
        """The expression with Grafana's variables substituted, as Prometheus receives it."""
        return substitute(self.expr)

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}"


def substitute(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def load_generator() -> ModuleType:
    """deploy/grafana/generate.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_queries() -> list[Query]:
    return [
        Query(name, panel["title"], target["refId"], target["expr"])
        for name, dashboard in dashboards().items()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in RULES:
        groups.extend(yaml.safe_load(path.read_text())["groups"])
    return groups


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


# ------------------------------------------------------------------------------------ PromQL


def children(node: Any) -> list[Any]:
    """The sub-expressions of a promql-parser node."""
    if isinstance(node, promql_parser.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, promql_parser.AggregateExpr):
        return [node.expr] + ([node.param] if node.param is not None else [])
    if isinstance(node, promql_parser.Call):
        return list(node.args)
    if isinstance(node, promql_parser.MatrixSelector):
        return [node.vector_selector]
    if isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr):
        return [node.expr]
    return []


def walk(node: Any) -> list[Any]:
    out = [node]
    for child in children(node):
        out.extend(walk(child))
    return out


def selectors(expr: str) -> list[Any]:
    """Every vector selector (``name{matchers}``) of an expression."""
    return [
        node for node in walk(promql_parser.parse(expr)) if isinstance(node, promql_parser.VectorSelector)
    ]


def metric_names(expr: str) -> set[str]:
    names = set()
    for selector in selectors(expr):
        assert selector.name, f"select metrics by name, not by a __name__ matcher: {expr}"
        names.add(selector.name)
    return names
