"""Mesh field helpers: addresses, SPIFFE ids, XFCC, service namespaces, record ids."""

from __future__ import annotations

import pytest

from enricher.core.parsers.mesh_fields import (
    first_spiffe,
    hop_digest,
    host_of,
    ip_of,
    last_forwarded_for,
    namespace_of,
    record_digest,
    spiffe_id,
    text_of,
    xfcc_uri,
)


@pytest.mark.parametrize(
    ("address", "host", "ip"),
    [
        ("10.124.0.13:43612", "10.124.0.13", "10.124.0.13"),
        ("[2a02:cf40::4e36]:5000", "[2a02:cf40::4e36]", "2a02:cf40::4e36"),
        ("[2a02:cf40::7]", "[2a02:cf40::7]", "2a02:cf40::7"),
        ("2a02:cf40::7", "2a02:cf40::7", "2a02:cf40::7"),
        ("reviews:9080", "reviews", "reviews"),
        ("35.232.196.88", "35.232.196.88", "35.232.196.88"),
        ("[broken", "[broken", "[broken"),
    ],
)
def test_host_and_ip(address: str, host: str, ip: str) -> None:
    assert host_of(address) == host
    assert ip_of(address) == ip


def test_last_forwarded_for() -> None:
    assert last_forwarded_for("203.0.113.7, 10.128.0.60") == "10.128.0.60"
    assert last_forwarded_for("10.128.0.60") == "10.128.0.60"
    assert last_forwarded_for(" , ") is None


@pytest.mark.parametrize(
    ("host", "namespace"),
    [
        ("reviews.default.svc.cluster.local", "default"),
        ("ledger.finance.svc.corp.internal", "finance"),
        ("httpbin.foo.svc", "foo"),
        ("httpbin", None),
        ("api.github.com", None),
        ("a..svc.cluster.local", None),
        (".x.svc", None),
    ],
)
def test_namespace_of(host: str, namespace: str | None) -> None:
    assert namespace_of(host) == namespace


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("spiffe://cluster.local/ns/default/sa/curl", "spiffe://cluster.local/ns/default/sa/curl"),
        ("SPIFFE://cluster.local/ns/default/sa/curl", "spiffe://cluster.local/ns/default/sa/curl"),
        ("cluster.local/ns/default/sa/curl", "spiffe://cluster.local/ns/default/sa/curl"),
        (" spiffe://td.example/ns/a/sa/b ", "spiffe://td.example/ns/a/sa/b"),
        ("spiffe://example.org/workload/db", "spiffe://example.org/workload/db"),
        ("spiffe://", None),
        ("-", None),
        ("", None),
        ("https://cluster.local/ns/default/sa/curl", None),
        ("/ns/default/sa/curl", None),
        ("CN=payments,O=acme", None),
    ],
)
def test_spiffe_id(value: str, normalised: str | None) -> None:
    assert spiffe_id(value) == normalised


def test_first_spiffe_skips_non_spiffe_sans() -> None:
    found = first_spiffe("https://idp.example/x, cluster.local/ns/a/sa/b,spiffe://cluster.local/ns/c/sa/d")
    assert found == ("spiffe://cluster.local/ns/a/sa/b", "cluster.local/ns/a/sa/b")
    assert first_spiffe("-") is None


@pytest.mark.parametrize(
    ("header", "uri"),
    [
        (
            'By=spiffe://cluster.local/ns/default/sa/productpage;Hash=1a2b;Subject="";'
            "URI=spiffe://cluster.local/ns/default/sa/curl",
            "spiffe://cluster.local/ns/default/sa/curl",
        ),
        # a quoted Subject holding both separators does not split the element
        (
            'Hash=1a2b;Subject="CN=x,OU=y;z=1";URI=spiffe://td/ns/a/sa/b,URI=spiffe://td/ns/c/sa/d',
            "spiffe://td/ns/a/sa/b",
        ),
        # several URI SANs in one element: the last one
        ("URI=spiffe://td/ns/a/sa/first;uri=spiffe://td/ns/a/sa/second", "spiffe://td/ns/a/sa/second"),
        ('URI="spiffe://td/ns/a/sa/quoted"', "spiffe://td/ns/a/sa/quoted"),
        ("By=spiffe://td/ns/a/sa/b;Hash=1a2b", None),
        ("URI=https://not.spiffe/x", None),
        ('Subject="unterminated;URI=spiffe://td/ns/a/sa/b', None),
    ],
)
def test_xfcc_uri(header: str, uri: str | None) -> None:
    found = xfcc_uri(header)
    assert (found[0] if found else None) == uri


def test_text_of() -> None:
    assert [text_of(v) for v in ("x", "-", "", None, 200, 1.5, True, [1], {"a": 1})] == [
        "x",
        None,
        None,
        None,
        "200",
        "1.5",
        None,
        None,
        None,
    ]


def test_record_digest_is_stable_and_total() -> None:
    assert record_digest('[2026] "- - -"') == record_digest('[2026] "- - -"')
    assert record_digest({"b": 1, "a": 2}) == record_digest({"a": 2, "b": 1})  # key order does not matter
    assert record_digest({"a": 1}) != record_digest({"a": 2})
    assert len(record_digest("\ud800 lone surrogate")) == 32
    assert len(record_digest({1: 2**70})) == 32  # not JSON-serialisable: still an id
    assert len(hop_digest("10.0.0.1 GET a/b")) == 8
