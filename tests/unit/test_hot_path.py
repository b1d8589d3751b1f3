"""The hot path's shortcuts agree with the general code they stand in for.

``parse_single`` must yield what ``parse_object`` yields; ``direct_match`` must only pick the
entitlement the full rules pick, and only when they reach ``expected``/``matched_entitlement``;
the verdicts ``enrich`` builds on its fast path must equal those of ``decide``. Checked on the
whole real corpus and on a synthetic corpus-shaped stream that exercises every rule.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from bench.workload import generate_records
from enricher.core.baseline import CompiledBaseline, compile_baseline
from enricher.core.baseline_file import load_baseline_file
from enricher.core.events import NormalizedEvent
from enricher.core.identity import SessionLinks, resolve_direct, resolve_identity
from enricher.core.parsers import decode_record, parse_object, parse_single
from enricher.core.pipeline import EnrichState, RawRecord, enrich
from enricher.core.rules import Context, decide, decide_by_rules, direct_match
from enricher.core.rules.context import compute_match
from enricher.core.synthetic import generate_baseline
from enricher.core.verdict import make_verdict_id
from enricher.errors import ParseError
from enricher.replay import iter_records, read_input
from tests.conftest import CORPUS, REPO


def _corpus_records(given: bool = False) -> list[RawRecord]:
    """Every corpus record; with ``given``, the source named as a worker names it (its folder)."""
    records: list[RawRecord] = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md"):
        source = path.relative_to(CORPUS).parts[0] if given else None
        records.extend(iter_records(read_input(str(path)), path.name, source))
    return records


@pytest.fixture(scope="module")
def corpus_baseline() -> CompiledBaseline:
    return compile_baseline(load_baseline_file(REPO / "tests" / "data" / "corpus_baseline.yaml"), version=3)


@pytest.fixture(scope="module")
def synthetic() -> tuple[CompiledBaseline, list[bytes]]:
    doc = generate_baseline(300, 10, seed=11)
    return compile_baseline(doc, version=1), generate_records(doc, 4000, seed=12)


def _items(obj: object, source: str | None) -> list[tuple[str | None, object]]:
    return [(s, repr(item)) for s, item in parse_object(obj, source)]


@pytest.mark.parametrize("given", [False, True])
def test_parse_single_yields_what_parse_object_yields(given, corpus):
    shortcuts = 0
    for record in _corpus_records(given):
        try:
            obj = decode_record(record.data)
        except ParseError:
            continue
        single = parse_single(obj, record.source)
        if single is not None:
            shortcuts += 1
            assert [(single[0], repr(single[1]))] == _items(obj, record.source)
    assert shortcuts > 100


def test_parse_single_on_every_synthetic_record(synthetic):
    _, records = synthetic
    kinds = Counter()
    for raw in records:
        obj = decode_record(raw)
        for source in (None, next(iter(_items(obj, None)))[0]):
            single = parse_single(obj, source)
            assert single is not None
            assert [(single[0], repr(single[1]))] == _items(obj, source)
            kinds[single[0]] += 1
    assert set(kinds) == {"cloudtrail", "k8s_audit", "mesh"}


def _events(records: list[RawRecord]) -> list[NormalizedEvent]:
    events = []
    for record in records:
        try:
            obj = decode_record(record.data)
        except ParseError:
            continue
        events += [item for _, item in parse_object(obj, None) if isinstance(item, NormalizedEvent)]
    return events


def _check_decisions(events: list[NormalizedEvent], baseline: CompiledBaseline) -> Counter[str]:
    seen: Counter[str] = Counter()
    links = SessionLinks()
    for event in events:
        resolution = resolve_identity(event, baseline, links)
        direct = resolve_direct(event, baseline, links)
        if direct is not None:  # the shortcut resolves exactly as the full resolution
            assert resolution.identity is direct and resolution.in_scope and resolution.via == event.via
        if not resolution.in_scope:
            continue
        ctx = Context(event, resolution.identity, baseline, resolution.via)
        full = decide_by_rules(ctx)
        assert decide(Context(event, resolution.identity, baseline, resolution.via)) == full
        ent = direct_match(event, resolution.identity, baseline) if resolution.identity else None
        if ent is None:
            seen["rules"] += 1
            continue
        seen["direct"] += 1
        assert (full.verdict, full.reason, full.entitlement) == (
            "expected",
            "matched_entitlement",
            ent.entitlement.id,
        )
        assert compute_match(ctx).usable[0] is ent
    return seen


def test_direct_match_agrees_with_the_rules_on_the_corpus(corpus, corpus_baseline):
    seen = _check_decisions(_events(_corpus_records()), corpus_baseline)
    assert seen["direct"] > 0 and seen["rules"] > 0


def test_direct_match_agrees_with_the_rules_on_a_synthetic_stream(synthetic):
    baseline, records = synthetic
    seen = _check_decisions(_events([RawRecord(r) for r in records]), baseline)
    assert seen["direct"] > 1000 and seen["rules"] > 300


def test_enrich_builds_the_verdicts_decide_gives(synthetic):
    baseline, records = synthetic
    result = enrich([RawRecord(r) for r in records], baseline, EnrichState())
    by_id = {v.verdict_id: v for v in result.verdicts}
    links = SessionLinks()
    compared = 0
    for event in _events([RawRecord(r) for r in records]):
        resolution = resolve_identity(event, baseline, links)
        verdict = by_id.get(make_verdict_id(event.source, event.event_id))
        if verdict is None:
            continue
        decision = decide_by_rules(Context(event, resolution.identity, baseline, resolution.via))
        got = (verdict.verdict, verdict.reason, verdict.explanation, verdict.entitlement, verdict.severity)
        assert got[:4] == (decision.verdict, decision.reason, decision.explanation, decision.entitlement)
        compared += 1
    assert compared == len(result.verdicts) > 3000


def test_verdict_ids_are_the_digest_of_source_and_event_id():
    for source in ("cloudtrail", "k8s_audit", "mesh", "other"):
        expected = hashlib.blake2b(f"{source}\x00ev-1".encode(), digest_size=16).hexdigest()
        assert make_verdict_id(source, "ev-1") == expected
