"""schemas/verdict.schema.json is the SIEM contract of the native verdict record: it must accept
every record the product serializes and reject records that break the contract."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from enricher.core import events
from enricher.core import verdict as vm
from enricher.core.verdict import Verdict
from tests.unit.verdict_samples import all_samples, sample, sample_id, variant

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "verdict.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
FIELDS = [f.name for f in dataclasses.fields(Verdict)]
SAMPLES = all_samples()


def record(v: Verdict) -> dict[str, Any]:
    """The verdict exactly as the verdict topic carries it."""
    out: dict[str, Any] = orjson.loads(orjson.dumps(v, option=orjson.OPT_UTC_Z))
    return out


def errors(doc: dict[str, Any]) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(doc)]


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_schema_lists_every_field_in_order_all_required_none_extra() -> None:
    assert list(SCHEMA["properties"]) == FIELDS
    assert sorted(SCHEMA["required"]) == sorted(FIELDS)
    assert SCHEMA["additionalProperties"] is False


def test_every_property_is_described() -> None:
    for name, prop in SCHEMA["properties"].items():
        assert len(prop.get("description", "")) > 20, name


def test_enums_follow_the_code() -> None:
    props = SCHEMA["properties"]
    assert props["schema_version"]["const"] == vm.SCHEMA_VERSION
    assert props["verdict"]["enum"] == list(vm.VERDICTS)
    assert sorted(props["reason"]["enum"]) == sorted(r for rs in vm.REASONS_BY_VERDICT.values() for r in rs)
    assert props["severity"]["enum"] == list(vm.SEVERITIES)
    assert props["source"]["enum"] == list(events.SOURCES)
    assert sorted(props["system"]["enum"]) == sorted(set(events.SYSTEM_OF_SOURCE.values()))
    kinds = {
        events.AWS_ROLE,
        events.AWS_USER,
        events.AWS_SERVICE,
        events.AWS_ROOT,
        events.AWS_SSO,
        events.AWS_OTHER,
        events.K8S_SERVICE_ACCOUNT,
        events.K8S_USER,
        events.K8S_SYSTEM,
        events.SPIFFE,
        events.UNATTRIBUTED,
    }
    assert set(props["principal_kind"]["enum"]) == kinds


def test_reason_rules_follow_the_code() -> None:
    by_verdict = {
        rule["if"]["properties"]["verdict"]["const"]: rule["then"]["properties"]["reason"]["enum"]
        for rule in SCHEMA["allOf"]
        if "verdict" in rule["if"]["properties"] and "reason" in rule["then"]["properties"]
    }
    assert by_verdict == {k: list(v) for k, v in vm.REASONS_BY_VERDICT.items()}


def test_samples_cover_every_verdict_reason_and_source() -> None:
    assert {v.verdict for v in SAMPLES} == set(vm.VERDICTS)
    assert {v.reason for v in SAMPLES} == {r for rs in vm.REASONS_BY_VERDICT.values() for r in rs}
    assert {v.source for v in SAMPLES} == set(events.SOURCES)
    assert {v.severity for v in SAMPLES} == {"info", "medium", "high", "critical"}


@pytest.mark.parametrize("v", SAMPLES, ids=sample_id)
def test_every_sample_serializes_and_validates(v: Verdict) -> None:
    doc = record(v)
    assert list(doc) == FIELDS
    assert errors(doc) == []


def test_fractional_seconds_serialize_and_validate() -> None:
    doc = record(sample("k8s_audit", vm.MATCHED_ENTITLEMENT))
    assert doc["time"] == "2026-03-14T09:26:53.412377Z"
    assert errors(doc) == []


def _mutated(**changes: Any) -> dict[str, Any]:
    doc = record(sample("cloudtrail", vm.UNKNOWN_IDENTITY))
    assert errors(doc) == []
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("case", "changes"),
    [
        (
            "reason of another verdict",
            {"verdict": "expected", "reason": "unknown_identity", "severity": "info"},
        ),
        ("drift with an overprivileged reason", {"verdict": "drift", "reason": "allowed_beyond_baseline"}),
        ("unknown reason", {"reason": "because"}),
        ("unknown verdict", {"verdict": "suspicious"}),
        ("severity not allowed for the verdict", {"severity": "low"}),
        ("critical for a denied call", {"outcome": "denied"}),
        ("source and system disagree", {"system": "k8s"}),
        ("unknown outcome", {"outcome": "failure"}),
        ("time with an offset", {"time": "2026-03-14T09:26:53+00:00"}),
        ("time without a zone", {"time": "2026-03-14T09:26:53"}),
        ("time as epoch", {"time": 1773480413000}),
        ("month 13", {"time": "2026-13-14T09:26:53Z"}),
        ("date only", {"time": "2026-03-14Z"}),
        ("verdict_id too short", {"verdict_id": "0e4f2b8c6a1d4f3eb7c29d5a8e1f3c6"}),
        ("verdict_id upper case", {"verdict_id": "0E4F2B8C6A1D4F3EB7C29D5A8E1F3C60"}),
        ("negative baseline_version", {"baseline_version": -1}),
        ("float baseline_version", {"baseline_version": 4.5}),
        ("principal null", {"principal": None}),
        ("via a string", {"via": "system:serviceaccount:ops:x"}),
        ("standards with a number", {"standards": ["OWASP-NHI5:2025", 5]}),
        ("actor_entitled a string", {"actor_entitled": "no"}),
        ("unknown identity_kind", {"identity_kind": "robot"}),
        ("wrong schema_version", {"schema_version": "0.9"}),
        ("extra field", {"tenant": "acme"}),
    ],
)
def test_contract_violations_are_rejected(case: str, changes: dict[str, Any]) -> None:
    assert errors(_mutated(**changes)), case


@pytest.mark.parametrize("field", FIELDS)
def test_a_missing_field_is_rejected(field: str) -> None:
    doc = _mutated()
    del doc[field]
    assert errors(doc)


def test_a_non_utc_or_naive_datetime_cannot_produce_a_valid_record() -> None:
    v = sample("mesh", vm.ALLOWED_BEYOND_BASELINE)
    shifted = dataclasses.replace(v, time=v.time.astimezone(timezone(timedelta(hours=2))))
    naive = dataclasses.replace(v, time=datetime(2026, 3, 14, 9, 26, 53))
    assert errors(record(dataclasses.replace(v, time=v.time.astimezone(UTC)))) == []
    assert errors(record(shifted))
    assert errors(record(naive))


def test_nullable_fields_accept_null() -> None:
    v = variant("k8s-unknown-human-no-ip")
    doc = record(v)
    assert doc["identity"] is None and doc["source_ip"] is None and doc["session"] is None
    assert errors(doc) == []
