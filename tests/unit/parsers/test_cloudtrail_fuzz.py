"""Fuzzing: whatever JSON arrives, the parser yields events, skips or parse errors, never raises.

The parser keeps a last-resort ``malformed`` ParseError for exceptions its own checks did not
foresee; these tests also assert it never fires, so every bad input gets a specific reason.
"""

from __future__ import annotations

import copy
from datetime import UTC
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enricher.core.events import NormalizedEvent, Skipped
from enricher.core.parsers.cloudtrail import parse_cloudtrail
from enricher.errors import ParseError
from tests.unit.parsers.test_cloudtrail import corpus_records

RECORDS = corpus_records()

scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
# Values a real record's fields take, so that mutations reach deep into the mapping code.
field_values = json_values | st.sampled_from(
    [
        "",
        "arn:aws:sts::1:assumed-role/r",
        "arn:",
        "arn:aws-us-gov:iam::1:role/x",
        "system:serviceaccount:a",
        "AssumedRole",
        "IAMUser",
        "WebIdentityUser",
        "AWSService",
        "Root",
        "IdentityCenterUser",
        "2024-01-01T00:00:00Z",
        "AccessDenied",
        "Failure",
        "s3.amazonaws.com",
        "iam.amazonaws.com",
        "sts.amazonaws.com",
        "AssumeRole",
    ]
)


def check(obj: object) -> None:
    for item in parse_cloudtrail(obj):
        assert isinstance(item, NormalizedEvent | Skipped | ParseError), item
        if isinstance(item, ParseError):
            assert item.reason != "malformed", item
        elif isinstance(item, NormalizedEvent):
            assert item.time.tzinfo is UTC
            for name in (
                "event_id",
                "principal",
                "principal_kind",
                "raw_principal",
                "action",
                "resource",
                "outcome",
            ):
                assert type(getattr(item, name)) is str, name
            for name in (
                "session",
                "session_key",
                "account",
                "region",
                "source_ip",
                "user_agent",
                "error_code",
            ):
                assert getattr(item, name) is None or type(getattr(item, name)) is str, name
            assert item.resource and ":" in item.action


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    check(value)
    check({"Records": [value]})
    check({"detail-type": "AWS API Call via CloudTrail", "detail": value})


def mutate(record: dict[str, Any], path: list[str], value: Any, delete: bool) -> dict[str, Any]:
    """Replace (or delete) the value at ``path``, descending only through objects."""
    out = copy.deepcopy(record)
    node: Any = out
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            break
        node = node[key]
    if isinstance(node, dict):
        if delete:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return out


def paths(record: dict[str, Any]) -> list[list[str]]:
    found: list[list[str]] = []

    def walk(node: Any, prefix: list[str]) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                found.append([*prefix, key])
                walk(child, [*prefix, key])

    walk(record, [])
    return found


@st.composite
def mutated_records(draw: st.DrawFn) -> dict[str, Any]:
    record = draw(st.sampled_from(RECORDS))
    for _ in range(draw(st.integers(1, 4))):
        candidates = paths(record) or [["eventName"]]
        path = draw(st.sampled_from(candidates))
        record = mutate(record, path, draw(field_values), draw(st.booleans()))
    return record


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records())
def test_mutated_corpus_records_never_raise(record: dict[str, Any]) -> None:
    check(record)
    check({"Records": [record, record]})
    check([record])


def test_the_net_is_not_needed_for_the_corpus() -> None:
    for record in RECORDS:
        check(record)
