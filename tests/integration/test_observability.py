"""The dashboards and alert rules against a real Prometheus scraping a real run (SPEC §10).

promtool checks the configuration and the rules and runs the rules' unit tests; then a worker, the
verdict sink and the HTTP API run on the real broker and PostgreSQL while a Prometheus on
127.0.0.1 (1 s scrapes, its own data directory) scrapes all three, the API with a bearer token read
from a file. Every expression of every dashboard panel must return data, every rule must evaluate
cleanly in Prometheus itself, and the dead-letter and unknown-identity alerts must trip.

Prometheus comes from Debian's ``prometheus`` package, installed here when it is missing (the
Makefile's ``prometheus`` target does the same for ``make test``).
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bench.workload import generate_records
from enricher.adapters.store.baseline_repo import BaselineRepository
from enricher.adapters.store.engine import create_engine_for
from enricher.core.baseline import compile_baseline
from enricher.core.model import BaselineDocument
from enricher.core.pipeline import EnrichState, RawRecord, enrich
from enricher.core.synthetic import generate_baseline
from enricher.samples.events import sample_stream
from tests.integration.pipeline_harness import (
    GARBAGE,
    Topics,
    WorkerProcess,
    make_topics,
    produce,
    worker_env,
)
from tests.integration.services import free_port, run_isolated, unique_name
from tests.unit.dashboard_files import PROMETHEUS, alerts, dashboard_queries, rules, selectors

pytestmark = pytest.mark.timeout(180)

WAVES = 10  # records arrive in waves, so every counter moves between scrapes (rate() needs two samples)


# ------------------------------------------------------------------------------- Prometheus


def _install_prometheus() -> None:
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (
        [*sudo, "apt-get", "update", "-q"],
        [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"],
    )
    for step in steps:
        done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            pytest.fail(
                f"could not install Debian's prometheus package ({' '.join(step)} exited {done.returncode}); "
                f"install it (apt-get install prometheus, or make prometheus) and re-run:\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )


@pytest.fixture(scope="session")
def prometheus_bin() -> tuple[str, str]:
    """Paths of ``prometheus`` and ``promtool``, installed from Debian when missing."""
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        _install_prometheus()
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not (prometheus and promtool):
        pytest.fail("the prometheus package is installed but prometheus/promtool are not on PATH")
    return prometheus, promtool


def _promtool(promtool: str, *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd)
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_promtool_accepts_the_configuration_and_the_rules_and_their_unit_tests(prometheus_bin, tmp_path):
    _, promtool = prometheus_bin
    # check config also opens the token file: give the copy one
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    (copy / "secrets").mkdir(exist_ok=True)
    (copy / "secrets" / "enricher-api.token").write_text("not-a-real-token\n")
    out = _promtool(promtool, "check", "config", str(copy / "prometheus.yml"))
    assert "SUCCESS" in out and "rules found" in out
    rule_files = sorted(str(p) for p in (PROMETHEUS / "rules").glob("*.yml"))
    assert "SUCCESS" in _promtool(promtool, "check", "rules", *rule_files)
    assert "SUCCESS" in _promtool(
        promtool, "test", "rules", str(PROMETHEUS / "tests" / "enricher-alerts.test.yml")
    )


class Process:
    """A subprocess with its output in a log file, stopped by its own PID."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            argv, env={**os.environ, **(env or {})}, stdout=self._log, stderr=subprocess.STDOUT
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


def wait_for(what: str, check: Callable[[], bool], timeout: float, *processes: Process) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if not process.alive():
                raise AssertionError(
                    f"{process.name} exited {process.proc.returncode}:\n{process.log()[-3000:]}"
                )
        if check():
            return
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.name}\n{p.log()[-1500:]}" for p in processes)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


class PrometheusApi:
    def __init__(self, port: int) -> None:
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def get(self, path: str, **params: str) -> Any:
        response = self.client.get(path, params=params)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        assert data["resultType"] in {"vector", "scalar"}, data
        return data["result"] if data["resultType"] == "vector" else [{"metric": {}, "value": data["result"]}]

    def ready(self) -> bool:
        try:
            return self.client.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self.client.close()


def finite(result: list[dict[str, Any]]) -> bool:
    """At least one series with a number (not NaN: 0/0 or a quantile of no observations)."""
    return any(math.isfinite(float(series["value"][1])) for series in result)


def prometheus_config(ports: dict[str, int], token_file: Path) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml pointed at this run's processes, scraping every second."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS / "rules" / "*.yml")]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token_file)
    return config


# ------------------------------------------------------------------------------------ the run


async def import_baseline(url: str, doc: BaselineDocument) -> int:
    engine = create_engine_for(url)
    try:
        return (await BaselineRepository(engine).import_document(doc, author="observability-test")).version
    finally:
        await engine.dispose()


def source_of(raw: bytes) -> str:
    return "cloudtrail" if b'"eventName"' in raw else "k8s_audit" if b'"auditID"' in raw else "mesh"


def waves(doc: BaselineDocument) -> list[list[tuple[str, bytes]]]:
    """Generated records plus, in every wave, dead letters, out-of-scope lines, a non-final audit
    stage (from the demo scenario, whose identities are unknown to this baseline) and a redelivery."""
    generated = [(source_of(raw), raw) for raw in generate_records(doc, 3000, seed=31)]
    scenario = list(sample_stream(42 * WAVES, seed=32))
    out = []
    for i in range(WAVES):
        wave = generated[i::WAVES] + scenario[i * 42 : (i + 1) * 42]
        wave += [("cloudtrail", GARBAGE[0]), ("mesh", GARBAGE[1]), ("k8s_audit", GARBAGE[2])]
        if i:
            wave.append(generated[i - 1])  # the same record again: a duplicate
        out.append(wave)
    return out


def token_for(database_url: str, tmp_path: Path) -> Path:
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "enricher.cli",
            "api",
            "token",
            "create",
            unique_name("prom"),
            "--scopes",
            "read",
        ],
        env={**os.environ, "ENRICHER_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    path = tmp_path / "secrets" / "enricher-api.token"
    path.parent.mkdir()
    path.write_text(created.stdout)
    return path


@pytest.fixture
def running(
    prometheus_bin, kafka_bootstrap, kafka_topic_factory, pg_database, tmp_path
) -> Iterator[tuple[PrometheusApi, list[Process], Topics, BaselineDocument, int]]:
    """Worker, sink and API on this test's topics and database, and Prometheus scraping them."""
    prometheus, _ = prometheus_bin
    doc = generate_baseline(300, 6, seed=11)
    version = run_isolated(import_baseline(pg_database, doc))
    topics = make_topics(kafka_topic_factory)
    token_file = token_for(pg_database, tmp_path)
    ports = {"enricher-worker": free_port(), "enricher-sink": free_port(), "enricher-api": free_port()}
    prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(ports, token_file)))
    env = worker_env(kafka_bootstrap, pg_database, topics)
    processes: list[Process] = []
    worker = WorkerProcess({**env, "ENRICHER_METRICS_PORT": str(ports["enricher-worker"])}, tmp_path)
    api = PrometheusApi(prom_port)
    try:
        processes.append(
            Process(
                "sink",
                [sys.executable, "-m", "enricher.cli", "sink", "--metrics-port", str(ports["enricher-sink"])],
                tmp_path,
                {**env, "ENRICHER_CONSUMER_GROUP": unique_name("sink")},
            )
        )
        processes.append(
            Process(
                "api",
                [
                    sys.executable,
                    "-m",
                    "enricher.cli",
                    "api",
                    "--port",
                    str(ports["enricher-api"]),
                    "--no-migrate",
                ],
                tmp_path,
                {"ENRICHER_DATABASE_URL": pg_database, "ENRICHER_LOG_LEVEL": "WARNING"},
            )
        )
        processes.append(
            Process(
                "prometheus",
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--log.level=warn",
                ],
                tmp_path,
            )
        )
        wait_for("Prometheus to be ready", api.ready, 20, *processes)
        worker.wait_ready()
        yield api, processes, topics, doc, version
    finally:
        api.close()
        worker.terminate()
        for process in reversed(processes):
            process.stop()


def test_every_dashboard_query_returns_data_and_every_rule_evaluates(running, kafka_bootstrap):
    api, processes, topics, doc, version = running
    baseline = compile_baseline(doc, version)
    records = waves(doc)

    def targets_up() -> bool:
        found = api.get("/api/v1/targets")["activeTargets"]
        return len(found) == 3 and all(t["health"] == "up" for t in found)

    wait_for("all three targets to be scraped", targets_up, 20, *processes)
    produced = 0
    for wave in records:
        produced += produce(kafka_bootstrap, topics, wave)
        time.sleep(0.7)
    oracle = enrich(
        [RawRecord(raw, source) for wave in records for source, raw in wave], baseline, EnrichState()
    )
    expected_read = sum(oracle.events.values()) + len(oracle.dead_letters)
    read = 'sum(enricher_events_total{job="enricher-worker"}) + sum(enricher_deadletter_total{job="enricher-worker"})'

    def all_read() -> bool:
        result = api.query(read)
        return finite(result) and float(result[0]["value"][1]) >= expected_read

    wait_for(
        f"the worker to read {produced} records ({expected_read} events and dead letters)",
        all_read,
        30,
        *processes,
    )

    queries = dashboard_queries()
    assert len(queries) > 30

    def failing() -> list[str]:
        return [str(q) for q in queries if not finite(api.query(q.promql))]

    # the lag gauges appear within 5 s, the top-offender gauge within 1 s of the first alerts
    deadline = time.monotonic() + 20
    while (missing := failing()) and time.monotonic() < deadline:
        time.sleep(1)
    assert not missing, f"dashboard queries without data: {missing}"

    # rule expressions: valid for Prometheus, and every series they select exists in this run
    for rule in rules():
        api.query(rule["expr"])
        for selector in selectors(rule["expr"]):
            assert api.query(selector.prettify()), (
                f"{rule.get('alert', rule.get('record'))}: {selector} selects nothing"
            )
    # Prometheus evaluates the rules itself (rule_files of the deployed configuration)
    loaded = [rule for group in api.get("/api/v1/rules")["groups"] for rule in group["rules"]]
    assert len(loaded) == len(rules())
    assert all(rule["health"] == "ok" for rule in loaded), [r for r in loaded if r["health"] != "ok"]
    names = {rule["alert"] for rule in alerts()}
    assert {rule["name"] for rule in loaded if rule["type"] == "alerting"} == names

    def tripped() -> set[str]:
        return {a["labels"]["alertname"] for a in api.get("/api/v1/alerts")["alerts"]}

    # >1% of the mesh and audit records are garbage; the demo's identities are unknown to this baseline
    wait_for(
        "the dead-letter and unknown-identity alerts",
        lambda: {"EnricherDeadLetterRate", "EnricherUnknownIdentityBurst"} <= tripped(),
        10,
        *processes,
    )
    assert "EnricherWorkerDown" not in tripped() and "EnricherServiceDown" not in tripped()

    # bounded cardinality in the real exposition
    offenders = api.query('enricher_top_offender_alerts{job="enricher-worker"}')
    assert 0 < len(offenders) <= 30
    scopes = api.query('count(enricher_verdicts_by_scope_total{job="enricher-worker"})')
    assert 0 < float(scopes[0]["value"][1]) <= 3 * 4 * 51
