"""``enricher demo`` end to end on the real broker: the command a new user runs first.

Each test points the demo at topics of its own (``ENRICHER_TOPIC_*``) and a temporary work
folder, runs the real CLI in a subprocess (which starts a real worker) and reads what it prints.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka.admin import AdminClient

from enricher.core.verdict import REASONS_BY_VERDICT, UNUSED_ENTITLEMENT, VERDICTS
from enricher.samples.events import DEAD_LETTER, EXPECTED_OUTCOMES, SAMPLES
from tests.integration.services import unique_name

REPO = Path(__file__).resolve().parents[2]
TOPIC_SETTINGS = {
    "ENRICHER_TOPIC_RAW_CLOUDTRAIL": "raw-cloudtrail",
    "ENRICHER_TOPIC_RAW_K8S_AUDIT": "raw-k8s-audit",
    "ENRICHER_TOPIC_RAW_MESH": "raw-mesh",
    "ENRICHER_TOPIC_VERDICTS": "verdicts",
    "ENRICHER_TOPIC_ALERTS": "alerts",
    "ENRICHER_TOPIC_ALERTS_OCSF": "alerts-ocsf",
    "ENRICHER_TOPIC_DEADLETTER": "deadletter",
    "ENRICHER_TOPIC_BASELINE": "baseline",
}
# verdicts one pass of the scenario gives (the table in enricher/samples/events.py)
VERDICTS_PER_PASS = sum(
    1 for outcomes in EXPECTED_OUTCOMES.values() for kind, _ in outcomes if kind in REASONS_BY_VERDICT
)
DEAD_PER_PASS = sum(
    1 for outcomes in EXPECTED_OUTCOMES.values() for kind, _ in outcomes if kind == DEAD_LETTER
)


@pytest.fixture
def demo_env(kafka_bootstrap: str, kafka_admin: AdminClient) -> Iterator[dict[str, str]]:
    """The environment of a demo run on topics no one else uses (deleted afterwards)."""
    topics = {key: unique_name(f"demo-{prefix}") for key, prefix in TOPIC_SETTINGS.items()}
    env = {
        **os.environ,
        **topics,
        "ENRICHER_KAFKA_BROKERS": kafka_bootstrap,
        "ENRICHER_TOPIC_PARTITIONS": "2",
    }
    yield env
    existing = set(kafka_admin.list_topics(timeout=10).topics)
    made = [name for name in topics.values() if name in existing]
    if made:
        for future in kafka_admin.delete_topics(made, operation_timeout=30).values():
            future.result(timeout=30)


def run_demo(
    env: dict[str, str], workdir: Path, *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "enricher.cli", "demo", "--workdir", str(workdir), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def counts(summary: str) -> dict[str, int]:
    """``verdict`` and ``verdict/reason`` -> count, from the summary's table."""
    found: dict[str, int] = {}
    kind = ""
    for line in summary.splitlines():
        match = re.fullmatch(r"  (\w+)\s+([\d,]+)", line)
        if match and match.group(1) in VERDICTS:
            kind = match.group(1)
            found[kind] = int(match.group(2).replace(",", ""))
            continue
        match = re.fullmatch(r"      (\w+)\s+([\d,]+)", line)
        if match and kind:
            found[f"{kind}/{match.group(1)}"] = int(match.group(2).replace(",", ""))
    return found


def total_verdicts(summary: str) -> int:
    match = re.search(r"Verdicts by kind and reason \(([\d,]+) in all", summary)
    assert match, summary
    return int(match.group(1).replace(",", ""))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_the_demo_shows_every_verdict_and_the_dead_letters(demo_env: dict[str, str], tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_demo(demo_env, tmp_path / "demo", "--events", "300")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    assert elapsed < 60, f"the demo took {elapsed:.1f} s"

    found = counts(out)
    for verdict, reasons in REASONS_BY_VERDICT.items():
        assert found.get(verdict, 0) > 0, (verdict, out)
        for reason in reasons:
            if reason != UNUSED_ENTITLEMENT:
                assert found.get(f"{verdict}/{reason}", 0) > 0, (verdict, reason, out)
    records = len(SAMPLES) + 300
    assert total_verdicts(out) == sum(n for key, n in found.items() if "/" not in key)
    dead = re.search(r"  dead letters\s+([\d,]+)\s+\((.*)\)", out)
    assert dead, out
    assert int(dead.group(1)) > 0
    assert {"invalid_json", "not_utf8", "k8s_not_an_event"} <= {
        part.split()[0] for part in dead.group(2).split(", ")
    }

    # the outputs are named, one example per kind at least, and the worker was stopped
    for topic in (
        "ENRICHER_TOPIC_VERDICTS",
        "ENRICHER_TOPIC_ALERTS",
        "ENRICHER_TOPIC_ALERTS_OCSF",
        "ENRICHER_TOPIC_DEADLETTER",
    ):
        assert demo_env[topic] in out
    for verdict in VERDICTS:
        assert re.search(rf"^  {verdict} / \w+  \[\w+\]", out, re.M), verdict
    assert "replay --baseline" in out
    pid = int(re.search(r"worker: pid (\d+)", out).group(1))  # type: ignore[union-attr]
    assert f"Stopped the worker (pid {pid})" in out
    assert not alive(pid)

    # the files it points to hold what it says
    workdir = tmp_path / "demo"
    saved = (workdir / "verdicts.jsonl").read_bytes().splitlines()
    assert len(saved) == total_verdicts(out)
    assert {orjson.loads(line)["verdict"] for line in saved} == set(VERDICTS)
    lines = sum(len(p.read_bytes().splitlines()) for p in (workdir / "samples").glob("*.log"))
    assert lines == records
    assert not (workdir / "worker.pid").exists()


def test_a_second_run_reports_only_its_own_records_and_stops_a_kept_worker(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    workdir = tmp_path / "demo"
    first = run_demo(demo_env, workdir, "--events", "200", "--keep")
    assert first.returncode == 0, first.stderr + first.stdout
    kept = int(re.search(r"keeps running \(--keep\): pid (\d+)", first.stdout).group(1))  # type: ignore[union-attr]
    try:
        assert alive(kept)
        assert (workdir / "worker.pid").read_text().strip() == str(kept)

        second = run_demo(demo_env, workdir, "--events", "0")
        assert second.returncode == 0, second.stderr + second.stdout
        assert (
            f"stopping the worker an earlier `enricher demo --keep` left running (pid {kept})"
            in second.stdout
        )
        assert not alive(kept)
        # the topics still hold the first run's records; the summary counts this run's only
        assert total_verdicts(second.stdout) == VERDICTS_PER_PASS
        assert re.search(rf"  dead letters\s+{DEAD_PER_PASS}\s", second.stdout), second.stdout
        assert total_verdicts(first.stdout) > VERDICTS_PER_PASS
    finally:
        if alive(kept):
            os.kill(kept, signal.SIGKILL)


def test_no_broker_fails_fast_and_says_how_to_start_one(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "ENRICHER_KAFKA_BROKERS": f"127.0.0.1:{port}"}
    result = run_demo(env, tmp_path / "demo", timeout=30)
    assert result.returncode == 1
    assert f"no Kafka broker answers on 127.0.0.1:{port}" in result.stderr
    assert "make kafka-up" in result.stderr


def test_a_worker_that_dies_fails_the_demo_with_its_log(demo_env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:  # the worker cannot serve /metrics on a port in use
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_demo(demo_env, tmp_path / "demo", "--events", "10", "--metrics-port", str(port))
    assert result.returncode == 1
    assert "the worker exited with status" in result.stderr
    assert "Last lines of the worker log" in result.stderr
    assert "Address already in use" in result.stderr
