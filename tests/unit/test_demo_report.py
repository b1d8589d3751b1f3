"""The demo's bookkeeping: which output records are this run's, when the run is complete, the summary.

Fed with real verdicts: the sample scenario through the core against the sample baseline.
"""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from enricher import __version__
from enricher.config import Settings
from enricher.core.baseline import compile_baseline
from enricher.core.baseline_file import load_baseline_file
from enricher.core.ocsf import ocsf_json
from enricher.core.pipeline import BatchResult, EnrichState, RawRecord, enrich, serialize_verdict
from enricher.demo_report import Expected, Observed, mismatch, render_summary, role_of_topics
from enricher.samples.events import sample_records, sample_stream

BASELINE = Path(__file__).resolve().parents[2] / "enricher" / "samples" / "baseline.yaml"
SETTINGS = Settings()
PATHS = {
    "workdir": ".demo",
    "samples": ".demo/samples",
    "verdicts": ".demo/verdicts.jsonl",
    "log": ".demo/worker.log",
    "baseline": "enricher/samples/baseline.yaml",
}


def enriched(records: list[tuple[str, bytes]], first_offset: int = 0) -> BatchResult:
    """The core on ``records``, as if produced to partition 0 of ``raw.<source>`` from ``first_offset``."""
    baseline = compile_baseline(load_baseline_file(BASELINE), version=1)
    raw = [
        RawRecord(data, source, f"raw.{source}", 0, first_offset + n)
        for n, (source, data) in enumerate(records)
    ]
    return enrich(raw, baseline, EnrichState())


@pytest.fixture(scope="module")
def run() -> tuple[Expected, BatchResult]:
    result = enriched(sample_records())
    expected = Expected()
    expected.add(result)
    return expected, result


def positions(result: BatchResult) -> set[tuple[str, int, int]]:
    """Where the run produced the records that became dead letters."""
    return {(d.topic or "", d.partition or 0, d.offset or 0) for d in result.dead_letters}


def deliver(
    observed: Observed,
    expected: Expected,
    result: BatchResult,
    ours: BatchResult,
    saved: io.BytesIO | None = None,
) -> None:
    """What the worker writes for ``result``, read back by the demo of the run that produced ``ours``."""
    produced = positions(ours)
    for v in result.verdicts:
        observed.add("verdicts", serialize_verdict(v), expected.by_id, produced, saved)
        if v.verdict != "expected":
            observed.add("alerts", serialize_verdict(v), expected.by_id, produced, saved)
            observed.add("ocsf", ocsf_json(v, __version__), expected.by_id, produced, saved)
    for d in result.dead_letters:
        observed.add("deadletter", d.to_json(), expected.by_id, produced, saved)


def test_complete_only_once_every_output_arrived(run: tuple[Expected, BatchResult]) -> None:
    expected, result = run
    observed = Observed()
    assert not observed.complete(expected)
    saved = io.BytesIO()
    deliver(observed, expected, result, result, saved)
    assert observed.complete(expected)
    assert len(observed.verdicts) == len(result.verdicts)
    assert observed.alerts == observed.findings == sum(v.verdict != "expected" for v in result.verdicts)
    assert observed.dead_letters == expected.dead_letters
    assert len(saved.getvalue().splitlines()) == len(result.verdicts)
    assert mismatch(expected, observed) is None


def test_other_runs_and_redeliveries_are_not_counted(run: tuple[Expected, BatchResult]) -> None:
    expected, result = run
    # another run's records, produced to other positions of the same topics
    other = enriched(list(sample_stream(40, seed=99)), first_offset=1000)
    observed = Observed()
    deliver(observed, expected, other, result)
    assert observed.verdicts == [] and observed.alerts == observed.findings == 0
    assert observed.others > 0
    deliver(observed, expected, result, result)
    deliver(observed, expected, result, result)  # at-least-once: the batch judged and produced twice
    assert len(observed.verdicts) == len(result.verdicts)
    assert observed.dead_letters.total() == len(result.dead_letters)
    assert observed.complete(expected)


def test_a_verdict_that_differs_from_the_core_is_reported(run: tuple[Expected, BatchResult]) -> None:
    expected, result = run
    observed = Observed()
    deliver(observed, expected, result, result)
    observed.verdicts[0] = {**observed.verdicts[0], "verdict": "drift", "reason": "approved_but_denied"}
    found = mismatch(expected, observed)
    assert found is not None and found.startswith("1 verdict(s)")
    assert observed.verdicts[0]["event_id"] in found


def test_the_summary_counts_every_kind_and_shows_examples(run: tuple[Expected, BatchResult]) -> None:
    expected, result = run
    observed = Observed()
    deliver(observed, expected, result, result)
    text = render_summary(expected, observed, SETTINGS, PATHS, prog=".venv/bin/enricher")
    assert f"Verdicts by kind and reason ({len(result.verdicts)} in all" in text
    for verdict, reason in expected.verdicts:
        assert f"  {verdict} / " in text  # at least one example per kind
        assert f"      {reason} " in text
    assert "(invalid_json 1, k8s_not_an_event 1, not_utf8 1)" in text
    assert "(cloudtrail:aws_sso 1, mesh:unattributed 1)" in text
    for topic in role_of_topics(SETTINGS):
        assert topic in text
    assert ".venv/bin/enricher replay --baseline enricher/samples/baseline.yaml --deadletter" in text
    assert ".demo/samples/*.log > .demo/replayed.jsonl" in text
    # the access-model example is the unentitled one (high), the matched one shows `via`
    assert "drift / access_model_change  [high]" in text
    assert "via system:serviceaccount:external-secrets:external-secrets" in text


def test_unparseable_output_records_are_someone_elses() -> None:
    observed = Observed()
    observed.add("verdicts", b"not json", {}, set())
    observed.add("verdicts", orjson.dumps({"verdict_id": 7}), {}, set())
    observed.add("deadletter", orjson.dumps({"topic": "raw.mesh", "partition": 0, "offset": 1}), {}, set())
    assert observed.others == 3 and not observed.verdicts and not observed.dead_letters
