"""Fuzzing: whatever line or object arrives, the mesh parser yields one item and never raises.

The parser keeps a last-resort ``malformed`` ParseError for exceptions its own checks did not
foresee; these tests also assert it never fires, so every bad input gets a specific reason.
"""

from __future__ import annotations

import copy
from datetime import UTC
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enricher.core import events as ev
from enricher.core.events import NormalizedEvent, Skipped
from enricher.core.parsers.mesh import parse_mesh
from enricher.errors import ParseError
from tests.unit.parsers.test_mesh import ZTUNNEL_DENIED, all_corpus_objects, istio_text

OBJECTS = all_corpus_objects()
TEXT_LINES = [o for o in OBJECTS if isinstance(o, str)] + [istio_text(), ZTUNNEL_DENIED]
RECORDS = [o for o in OBJECTS if isinstance(o, dict)]

scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
# Values the fields of a real record take, so that mutations reach deep into the mapping code.
field_values = json_values | st.sampled_from(
    [
        "",
        "-",
        "- - -",
        "0",
        "403",
        "UAEX",
        "via_upstream",
        "rbac_access_denied_matched_policy[none]",
        "outbound|80||",
        "outbound|80||x.y.svc.cluster.local",
        "outbound_._._.",
        "inbound|",
        "[::1]:80",
        "[",
        ":",
        "spiffe://",
        "cluster.local/ns/a/sa/b",
        'URI="spiffe://td/ns/a/sa/b',
        "2026-01-01T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
    ]
)
# Pieces that steer random text into each branch of the line sniffing.
prefixes = st.sampled_from(
    [
        "",
        "[",
        "[2026-03-05T10:11:12.345Z] ",
        '[2026-03-05T10:11:12.345Z] "GET / HTTP/1.1" ',
        "ACCESS ",
        "ACCESS [",
        "2026-03-05T10:11:12.400Z stdout F ",
        "2026-03-05T10:11:12.400Z stdout P ",
        "2026-03-05T10:11:12.400Z stderr ",
        "2026-03-05T10:11:12.518204Z error access connection complete ",
        "2026-03-05T10:11:12.518204Z\tinfo\taccess\t",
        "1 info access ",
        "{",
        '{"log": ',
    ]
)
TEXT_FIELDS = ("event_id", "principal", "principal_kind", "raw_principal", "action", "resource", "outcome")
OPTIONAL_FIELDS = ("session", "namespace", "source_ip", "user_agent", "error_code")


def check(obj: object) -> None:
    items = list(parse_mesh(obj))
    assert len(items) == 1, items
    item = items[0]
    assert isinstance(item, NormalizedEvent | Skipped | ParseError), item
    if isinstance(item, ParseError):
        assert item.reason != "malformed", item
        assert item.raw is obj
    elif isinstance(item, NormalizedEvent):
        assert item.time.tzinfo is UTC
        for name in TEXT_FIELDS:
            assert type(getattr(item, name)) is str, name
        for name in OPTIONAL_FIELDS:
            assert getattr(item, name) is None or type(getattr(item, name)) is str, name
        assert item.event_id and item.action
        assert item.boundary and item.resource.startswith(item.boundary + "/")
        assert item.outcome in ("success", "denied", "error")
        if item.principal_kind == ev.SPIFFE:
            assert item.principal.startswith("spiffe://") and item.raw_principal
        else:
            assert item.principal_kind == ev.UNATTRIBUTED and item.principal == ""


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(prefixes, st.text())
def test_arbitrary_text_never_raises(prefix: str, text: str) -> None:
    check(prefix + text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    check(value)
    check({"log": value})
    check({"message": value, "kubernetes": {"namespace": "x"}})
    if isinstance(value, dict):
        check({**value, "start_time": "2026-03-05T10:11:12.345Z"})
        check({**value, "src.addr": "10.0.0.1:1"})


@st.composite
def mutated_lines(draw: st.DrawFn) -> str:
    """A corpus line with some of its space-separated pieces replaced, cut short, or quoted."""
    pieces = draw(st.sampled_from(TEXT_LINES)).split(" ")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(pieces) - 1))
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "quote"]))
        if action == "replace":
            pieces[at] = draw(
                st.text(max_size=20) | st.sampled_from(["-", '"', '"-"', "[::1]:1", "é", "\u2028"])
            )
        elif action == "delete" and len(pieces) > 1:
            del pieces[at]
        elif action == "duplicate":
            pieces.insert(at, pieces[at])
        else:
            pieces[at] = '"' + pieces[at]
    line = " ".join(pieces)
    if draw(st.booleans()):
        line = line[: draw(st.integers(0, len(line)))]  # a partial line
    return line


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_lines())
def test_mutated_corpus_lines_never_raise(line: str) -> None:
    check(line)
    check("2026-03-05T10:11:12.400Z stdout F " + line)
    check({"log": line + "\n", "stream": "stdout"})


@st.composite
def mutated_records(draw: st.DrawFn) -> dict[str, Any]:
    record = copy.deepcopy(draw(st.sampled_from(RECORDS)))
    keys = [*record, "downstream_peer_uri_san", "source_principal", "x_forwarded_client_cert"]
    for _ in range(draw(st.integers(1, 5))):
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            record[key] = draw(field_values)
        else:
            record.pop(key, None)
    return record


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records())
def test_mutated_corpus_records_never_raise(record: dict[str, Any]) -> None:
    check(record)
    check({"message": orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS).decode(), "stream": "stdout"})


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(TEXT_LINES), st.integers(10_000, 1_000_000), st.sampled_from(["a", " ", '"', "é", "x="])
)
def test_huge_lines(line: str, size: int, filler: str) -> None:
    check(line + filler * size)
    check(filler * size + line)
    check(line.replace(" ", " " + filler * (size // 30) + " ", 1))


def test_non_ascii_fields() -> None:
    line = istio_text(ua="Mozilla/5.0 (Linux; 日本語) Ünïcödé", request="GET /café/☕?q=ü HTTP/1.1")
    items = list(parse_mesh(line))
    assert isinstance(items[0], NormalizedEvent)
    assert items[0].resource == "orders.orders.svc.cluster.local/café/☕"
    assert items[0].user_agent == "Mozilla/5.0 (Linux; 日本語) Ünïcödé"
