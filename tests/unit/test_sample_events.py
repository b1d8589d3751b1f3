"""The demo's sample records, run through the core against the demo baseline.

Each record must give exactly what the table in ``enricher.samples.events`` says, together they
must give every verdict and reason of SPEC §6 except the periodic ``unused_entitlement``, the
broken ones must be dead letters, and the volume stream must repeat the scenario with fresh ids.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from enricher import __version__
from enricher.core.baseline import CompiledBaseline, compile_baseline
from enricher.core.baseline_file import load_baseline_file
from enricher.core.ocsf import ocsf_json
from enricher.core.pipeline import BatchResult, EnrichState, RawRecord, enrich, serialize_verdict
from enricher.core.verdict import REASONS_BY_VERDICT, UNUSED_ENTITLEMENT, Verdict
from enricher.samples.events import (
    DEAD_LETTER,
    EXPECTED_OUTCOMES,
    OUT_OF_SCOPE,
    SAMPLES,
    SKIPPED,
    build_round,
    sample_records,
    sample_stream,
)
from tests.unit.ocsf_validation import finding_errors

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "enricher" / "samples" / "baseline.yaml"
SCHEMA = Draft202012Validator(json.loads((REPO / "schemas" / "verdict.schema.json").read_text()))
SOURCES = {"cloudtrail", "k8s_audit", "mesh"}


@pytest.fixture(scope="module")
def baseline() -> CompiledBaseline:
    return compile_baseline(load_baseline_file(BASELINE), version=7)


def outcomes(result: BatchResult) -> list[tuple[str, str]]:
    """What a batch gave, in the table's vocabulary (verdicts first, in order)."""
    got = [(v.verdict, v.reason) for v in result.verdicts]
    got += [(DEAD_LETTER, d.error) for d in result.dead_letters]
    got += [(OUT_OF_SCOPE, key) for key, n in sorted(result.out_of_scope.items()) for _ in range(n)]
    got += [(SKIPPED, key) for key, n in sorted(result.skipped.items()) for _ in range(n)]
    return got


@pytest.fixture(scope="module")
def judged(baseline: CompiledBaseline) -> dict[str, BatchResult]:
    """Each record enriched on its own, in scenario order, with one state (IRSA links carry over)."""
    state = EnrichState()
    return {name: enrich([RawRecord(data, source)], baseline, state) for name, source, data in build_round()}


@pytest.fixture(scope="module")
def verdicts(judged: dict[str, BatchResult]) -> list[Verdict]:
    return [v for result in judged.values() for v in result.verdicts]


def test_the_table_names_every_sample_once() -> None:
    assert [s.name for s in SAMPLES] == list(EXPECTED_OUTCOMES)
    assert {s.source for s in SAMPLES} == SOURCES


@pytest.mark.parametrize("name", list(EXPECTED_OUTCOMES))
def test_each_record_gives_what_the_table_says(name: str, judged: dict[str, BatchResult]) -> None:
    assert outcomes(judged[name]) == list(EXPECTED_OUTCOMES[name])


def test_every_verdict_and_reason_except_unused_entitlement_occurs(verdicts: list[Verdict]) -> None:
    wanted = {(kind, reason) for kind, reasons in REASONS_BY_VERDICT.items() for reason in reasons}
    wanted.discard(("overprivileged", UNUSED_ENTITLEMENT))
    assert {(v.verdict, v.reason) for v in verdicts} == wanted


def test_every_source_gives_findings_and_expected_verdicts(verdicts: list[Verdict]) -> None:
    for source in SOURCES:
        kinds = {v.verdict for v in verdicts if v.source == source}
        assert {"expected", "unauthorized_path", "drift"} <= kinds, source


def test_access_model_changes_by_entitled_and_unentitled_actors(verdicts: list[Verdict]) -> None:
    changes = {
        (v.identity, v.actor_entitled, v.target_identity, v.severity)
        for v in verdicts
        if v.reason == "access_model_change"
    }
    assert changes == {
        ("github-deployer", False, "github-deployer", "high"),  # AttachRolePolicy on its own role
        ("github-deployer", False, "payments-api", "high"),  # RoleBinding for the payments SA
        ("external-secrets", True, "payments-api", "medium"),  # token Secret for the payments SA
    }


def test_the_irsa_session_carries_the_service_account(judged: dict[str, BatchResult]) -> None:
    (link,) = judged["ct-external-secrets-irsa"].verdicts
    (read,) = judged["ct-external-secrets-get-secret"].verdicts
    assert link.identity == read.identity == "external-secrets"
    assert read.via == ("system:serviceaccount:external-secrets:external-secrets",)
    assert read.principal.startswith("arn:aws:sts::111122223333:assumed-role/external-secrets-irsa/")


def test_impersonation_records_the_impersonator(judged: dict[str, BatchResult]) -> None:
    (verdict,) = judged["k8s-impersonated-secret-list"].verdicts
    assert (verdict.identity, verdict.via) == ("payments-api", ("alice@example.com",))


def test_the_jit_window_decides_the_breakglass_reads(judged: dict[str, BatchResult]) -> None:
    (inside,) = judged["ct-breakglass-in-window"].verdicts
    (after,) = judged["ct-breakglass-after-window"].verdicts
    assert inside.entitlement == after.entitlement == "jit-db-secret"
    assert inside.time.hour < 17 <= after.time.hour


def test_broken_records_are_dead_letters_with_their_bytes(judged: dict[str, BatchResult]) -> None:
    broken = [s for s in SAMPLES if s.name.startswith("broken-")]
    assert {s.source for s in broken} == SOURCES  # one on each raw topic
    for sample in broken:
        result = judged[sample.name]
        assert not result.verdicts
        (dead,) = result.dead_letters
        record = orjson.loads(dead.to_json())
        assert record["source"] == sample.source
        if record["data_encoding"] == "base64":
            assert sample.name == "broken-binary"


def test_every_verdict_validates_and_every_alert_is_an_ocsf_finding(verdicts: list[Verdict]) -> None:
    for verdict in verdicts:
        record: dict[str, Any] = orjson.loads(serialize_verdict(verdict))
        assert not list(SCHEMA.iter_errors(record)), verdict.event_id
        if verdict.verdict != "expected":
            assert finding_errors(orjson.loads(ocsf_json(verdict, __version__))) == [], verdict.event_id


def test_records_are_single_lines_on_the_sample_day() -> None:
    for name, _source, data in build_round():
        assert b"\n" not in data and b"\r" not in data, name  # one Kafka message, one replay line
        if not name.startswith("broken-"):
            assert b"2026-03-02T" in data, name


def test_sample_records_are_the_same_every_time() -> None:
    first = sample_records()
    assert first == sample_records()
    assert len(first) == len(SAMPLES)
    assert [source for source, _ in first] == [s.source for s in SAMPLES]


def test_the_stream_repeats_the_scenario_with_fresh_ids(baseline: CompiledBaseline) -> None:
    rounds = 4
    stream = list(sample_stream(rounds * len(SAMPLES), seed=11))
    assert len(stream) == rounds * len(SAMPLES)
    result = enrich([RawRecord(data, source) for source, data in stream], baseline, EnrichState())
    once = Counter(outcome for expected in EXPECTED_OUTCOMES.values() for outcome in expected)
    assert Counter(outcomes(result)) == Counter({key: n * rounds for key, n in once.items()})
    assert result.duplicates == 0
    assert len({v.verdict_id for v in result.verdicts}) == len(result.verdicts)
    # the IRSA link of each round attaches to that round's secret read
    reads = [
        v for v in result.verdicts if v.identity == "external-secrets" and v.action.endswith("GetSecretValue")
    ]
    assert len(reads) == rounds and all(v.via for v in reads)


def test_the_stream_is_seeded_and_exact_in_length() -> None:
    assert list(sample_stream(50, seed=3)) == list(sample_stream(50, seed=3))
    assert list(sample_stream(50, seed=3)) != list(sample_stream(50, seed=4))
    assert len(list(sample_stream(len(SAMPLES) + 5))) == len(SAMPLES) + 5
    assert list(sample_stream(0)) == []


def test_stream_records_differ_from_the_fixed_pass_except_constant_garbage() -> None:
    constant = {"broken-binary", "broken-kind-zero"}
    fixed = [data for name, _, data in build_round() if name not in constant]
    streamed = {data for _, data in sample_stream(len(SAMPLES), seed=0)}
    assert not streamed.intersection(fixed)
