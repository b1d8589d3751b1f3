"""Fuzzing: whatever JSON arrives, the k8s parser yields events, skips or parse errors, never raises.

The parser keeps a last-resort ``k8s_malformed`` ParseError for exceptions its own checks did not
foresee; these tests assert it never fires, so every bad input gets a specific reason (reasons are
metric labels, so they also come from a small fixed set).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enricher.core.events import NormalizedEvent, Skipped
from enricher.core.parsers.k8s_audit import parse_k8s_audit
from enricher.errors import ParseError
from tests.unit.parsers.test_k8s_audit_corpus import corpus_files, corpus_values

RECORDS: list[dict[str, Any]] = [
    value for path in corpus_files() for value in corpus_values(path) if isinstance(value, dict)
]
RECEIVED = datetime(2026, 3, 1, tzinfo=UTC)
REASONS = {
    "k8s_not_an_event",
    "k8s_missing_verb",
    "k8s_missing_time",
    "k8s_bad_time",
    "k8s_bad_stage",
    "k8s_invalid_json",
    "k8s_unidentifiable",
    "k8s_stage_requestreceived",
    "k8s_stage_responsestarted",
}

scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
# Values the fields of a real event take, so that mutations reach deep into the mapping code.
field_values = json_values | st.sampled_from(
    [
        "",
        "Event",
        "EventList",
        "audit.k8s.io/v1",
        "v1",
        "ResponseComplete",
        "ResponseStarted",
        "Panic",
        "create",
        "patch",
        "system:serviceaccount:a:b",
        "system:serviceaccount:a",
        "system:serviceaccounts:a:b",
        "system:node:n1",
        "rbac.authorization.k8s.io",
        "security.istio.io",
        "clusterrolebindings",
        "serviceaccounts",
        "token",
        "secrets",
        "namespaces",
        "kubernetes.io/service-account-token",
        "forbid",
        "2026-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "io.k8s.core.v1.secrets.get",
        "io.k8s.get",
        "k8s.io",
        403,
        101,
        True,
        {"subjects": [{"kind": "ServiceAccount", "name": "x"}]},
        {"kind": "ServiceAccount", "name": 3, "namespace": None},
    ]
)
SUBOBJECTS = ("user", "impersonatedUser", "objectRef", "responseStatus", "annotations", "requestObject")


def check(obj: object, **kwargs: Any) -> list[NormalizedEvent | Skipped | ParseError]:
    before = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS) if _encodable(obj) else None
    items = list(parse_k8s_audit(obj, **kwargs))
    for item in items:
        assert isinstance(item, NormalizedEvent | Skipped | ParseError), item
        if isinstance(item, ParseError | Skipped):
            assert item.reason in REASONS, item
        else:
            assert item.time.tzinfo is UTC
            for name in ("event_id", "principal", "principal_kind", "raw_principal", "action", "resource"):
                assert isinstance(getattr(item, name), str), name
            assert item.event_id
            assert all(isinstance(v, str) for v in item.via)
    if before is not None:  # the parser never modifies its input
        assert orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS) == before
    return items


def _encodable(obj: object) -> bool:
    try:
        orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json(value: object) -> None:
    check(value)
    check({"kind": "EventList", "items": [value]})
    check({"category": "kube-audit", "properties": {"log": value}})
    check({"protoPayload": value, "timestamp": "2026-01-01T00:00:00Z"})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RECORDS), st.data())
def test_mutated_corpus_records(record: dict[str, Any], data: st.DataObject) -> None:
    mutated = copy.deepcopy(record)
    for _ in range(data.draw(st.integers(1, 4))):
        target = mutated
        sub = data.draw(st.sampled_from((None, *SUBOBJECTS)))
        if sub is not None and isinstance(mutated.get(sub), dict):
            target = mutated[sub]
        keys = sorted(target) or ["verb"]
        key = data.draw(st.sampled_from(keys) | st.text(max_size=8))
        if data.draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = data.draw(field_values)
    check(mutated)
    check(mutated, received=RECEIVED, cluster="c")
    check({"kind": "EventList", "items": [mutated, record]})
    check(
        {
            "category": "kube-audit",
            "properties": {"log": orjson.dumps(mutated, option=orjson.OPT_NON_STR_KEYS).decode()},
        }
    )


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "methodName",
                "resourceName",
                "serviceName",
                "status",
                "authorizationInfo",
                "authenticationInfo",
                "request",
                "requestMetadata",
            ]
        ),
        field_values,
    )
)
def test_gke_payloads(payload: dict[str, Any]) -> None:
    check({"protoPayload": payload, "timestamp": "2026-01-01T00:00:00Z", "operation": {"id": "x"}})
    check({"protoPayload": payload})


def nested(depth: int, leaf: object) -> object:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def test_deep_nesting() -> None:
    record = copy.deepcopy(RECORDS[0])
    record["requestObject"] = nested(50_000, "x")
    [event] = check(record)
    assert isinstance(event, NormalizedEvent)
    del record["auditID"]
    [unidentifiable] = check(record)
    assert isinstance(unidentifiable, ParseError) and unidentifiable.reason == "k8s_unidentifiable"
    check(nested(50_000, record))
    check({"kind": "EventList", "items": [nested(50_000, None)]})
    decoded = orjson.loads(b"[" * 1000 + b"]" * 1000)  # as deep as orjson decodes
    check(decoded)
    check({"category": "kube-audit", "properties": {"log": "[" * 5000 + "]" * 5000}})


def test_huge_strings() -> None:
    huge = "a" * 5_000_000
    record = copy.deepcopy(RECORDS[0])
    record["user"] = {"username": "system:serviceaccount:" + huge + ":x"}
    record["objectRef"] = {"resource": huge, "namespace": huge, "name": huge}
    record["stageTimestamp"] = huge
    [item] = check(record)
    assert isinstance(item, ParseError) and item.reason == "k8s_bad_time"
    assert len(item.detail) < 200
    record["stageTimestamp"] = "2026-01-01T00:00:00Z"
    record["stage"] = huge
    [item] = check(record)
    assert isinstance(item, ParseError) and item.reason == "k8s_bad_stage"
    assert len(item.detail) < 200
    del record["stage"]
    [event] = check(record)
    assert isinstance(event, NormalizedEvent)
    assert len(event.resource) > 10_000_000
    check({"category": "kube-audit", "properties": {"log": huge}})


def test_odd_python_values_do_not_escape() -> None:
    # what a caller other than orjson might hand over: huge ints, non-string keys, surrogates
    record = copy.deepcopy(RECORDS[0])
    record["responseStatus"] = {"code": 10**5000}  # not an HTTP status: ignored
    record["annotations"] = {1: "x", None: "y"}
    record["userAgent"] = "\ud800"
    [event] = check(record)
    assert isinstance(event, NormalizedEvent)
    assert event.outcome == "success"
    del record["auditID"]
    [item] = check(record)
    assert isinstance(item, ParseError) and item.reason == "k8s_unidentifiable"
