"""Mesh parser: every corpus file, each wrapper and format, identity, resource, outcome, event ids."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from enricher.core import events as ev
from enricher.core.events import NormalizedEvent, Skipped
from enricher.core.parsers import decode_record
from enricher.core.parsers.mesh import parse_mesh
from enricher.errors import ParseError

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "mesh"
ELASTIC = "elastic-integrations/"
ISTIO_DOCS = "istio-docs/"


def corpus_objects(relative: str) -> list[object]:
    """A corpus file as the pipeline decodes it: one record (JSON object or text line) per line."""
    lines = (CORPUS / relative).read_bytes().splitlines()
    return [decode_record(line) for line in lines if line.strip()]


def all_corpus_objects() -> list[object]:
    return [
        obj for path in sorted(CORPUS.rglob("*.log")) for obj in corpus_objects(str(path.relative_to(CORPUS)))
    ]


def parse_one(obj: object) -> NormalizedEvent | Skipped | ParseError:
    items = list(parse_mesh(obj))
    assert len(items) == 1, items
    return items[0]


def event_of(obj: object) -> NormalizedEvent:
    item = parse_one(obj)
    assert isinstance(item, NormalizedEvent), item
    return item


def error_of(obj: object) -> ParseError:
    item = parse_one(obj)
    assert isinstance(item, ParseError), item
    assert item.raw is obj
    return item


def corpus_event(relative: str, index: int) -> NormalizedEvent:
    return event_of(corpus_objects(relative)[index])


# -- the corpus -------------------------------------------------------------------------------

# file -> (events, skipped, parse errors by reason)
EXPECTED_COUNTS: dict[str, tuple[int, int, dict[str, int]]] = {
    ELASTIC + "envoyproxy-test-log.log": (7, 0, {}),
    ELASTIC + "istio-test-access-failed.log": (7, 0, {"bad_request_line": 1}),
    ELASTIC + "istio-test-access-json-logs.log": (2, 0, {"bad_request_line": 1}),
    ELASTIC + "istio-test-access-logs.log": (8, 0, {}),
    ELASTIC + "istio-test-access_container_logs.first4.log": (4, 0, {}),
    ELASTIC + "istio-test-access_invalid_logs.log": (0, 0, {"bad_request_line": 1}),
    ISTIO_DOCS + "sidecar-access-log-default-text.log": (2, 0, {}),
    ISTIO_DOCS + "ztunnel-access-troubleshoot-ztunnel.log": (6, 0, {}),
}


def test_every_corpus_file_is_accounted_for() -> None:
    found = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file()}
    assert found == set(EXPECTED_COUNTS)


@pytest.mark.parametrize("relative", sorted(EXPECTED_COUNTS))
def test_corpus_file_counts(relative: str) -> None:
    events = skipped = 0
    errors: Counter[str] = Counter()
    for obj in corpus_objects(relative):
        item = parse_one(obj)
        if isinstance(item, NormalizedEvent):
            events += 1
            assert item.source == "mesh" and item.system == "mesh"
            assert item.time.tzinfo is UTC
            assert item.resource.startswith(item.boundary + "/")
            assert item.outcome in ("success", "denied", "error")
        elif isinstance(item, Skipped):
            skipped += 1
        else:
            assert item.raw is obj
            errors[item.reason] += 1
    assert (events, skipped, dict(errors)) == EXPECTED_COUNTS[relative]


def test_client_and_server_sidecar_lines_of_one_request_share_the_event_id() -> None:
    client, server = (event_of(o) for o in corpus_objects(ISTIO_DOCS + "sidecar-access-log-default-text.log"))
    assert client.event_id == server.event_id
    assert client.event_id.startswith("84961386-6d84-929d-98bd-c5aee93b5c88:")
    # the client names the host by its outbound cluster, the server by the SNI: the same resource
    assert client.resource == server.resource == "httpbin.foo.svc.cluster.local/status/418"
    assert client.namespace == server.namespace == "foo"
    # 418 from the application (via_upstream) on both sides
    assert client.outcome == server.outcome == "error"
    assert client.error_code == "via_upstream"


def test_propagated_request_id_on_different_hops_gives_different_event_ids() -> None:
    # Bookinfo's productpage forwards x-request-id to the reviews call it makes: two hops.
    objects = corpus_objects(ELASTIC + "istio-test-access-logs.log")
    reviews_call, productpage = event_of(objects[3]), event_of(objects[4])
    assert reviews_call.event_id.split(":")[0] == productpage.event_id.split(":")[0]
    assert reviews_call.event_id != productpage.event_id
    assert reviews_call.resource == "reviews.default.svc.cluster.local/reviews/0"
    assert productpage.resource == "productpage.default.svc.cluster.local/productpage"


def test_istio_text_inbound_line() -> None:
    event = corpus_event(ELASTIC + "istio-test-access-logs.log", 0)
    assert event.time == datetime(2022, 7, 20, 9, 52, 24, 955000, tzinfo=UTC)
    assert event.principal == ""
    assert event.principal_kind == ev.UNATTRIBUTED
    assert event.raw_principal == "10.68.1.7"
    assert event.action == "GET"
    assert event.resource == "details.default.svc.cluster.local/details/0"
    assert event.boundary == "details.default.svc.cluster.local"
    assert event.namespace == "default"
    assert event.outcome == "success"
    assert event.error_code is None
    assert event.source_ip == "10.68.1.7"
    assert event.user_agent.startswith("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)")
    assert event.session is None and event.via == ()


def test_ipv6_downstream_address() -> None:
    event = corpus_event(ELASTIC + "istio-test-access-logs.log", 7)
    assert event.source_ip == event.raw_principal == "2a02:cf40::4e36"
    json_event = corpus_event(ELASTIC + "istio-test-access-json-logs.log", 1)
    assert json_event.source_ip == "2a02:cf40::4e36"


def test_istio_json_line() -> None:
    event = corpus_event(ELASTIC + "istio-test-access-json-logs.log", 0)
    assert event.time == datetime(2022, 9, 8, 12, 51, 5, 656000, tzinfo=UTC)
    assert event.event_id.startswith("9fcc7101-13bd-9753-98d6-820806088d9d:")
    assert event.resource == "reviews.default.svc.cluster.local/reviews/0"  # from the SNI
    assert event.user_agent == "curl/7.79.1"
    assert event.outcome == "success"


def test_json_codec_error_has_no_request_line() -> None:
    obj = corpus_objects(ELASTIC + "istio-test-access-json-logs.log")[2]
    assert error_of(obj).reason == "bad_request_line"


@pytest.mark.parametrize(
    ("relative", "index"),
    [(ELASTIC + "istio-test-access_invalid_logs.log", 0), (ELASTIC + "istio-test-access-failed.log", 4)],
)
def test_malformed_request_lines(relative: str, index: int) -> None:
    # "GET /status/418 -" and "- - HTTP/1.1" (a codec error)
    assert error_of(corpus_objects(relative)[index]).reason == "bad_request_line"


def test_failure_details_with_braces_and_flags() -> None:
    objects = corpus_objects(ELASTIC + "istio-test-access-failed.log")
    reset = event_of(objects[6])
    assert reset.outcome == "error"
    assert (
        reset.error_code
        == "upstream_reset_before_response_started{connection_failure,delayed_connect_error:_111}"
    )
    no_route = event_of(objects[2])
    assert no_route.resource == "35.232.196.88/favicon.ico"  # authority, no cluster or SNI
    assert no_route.namespace is None
    assert no_route.error_code == "route_not_found"
    disconnect = event_of(objects[7])
    assert disconnect.outcome == "error" and disconnect.error_code == "downstream_remote_disconnect"
    assert disconnect.source_ip == "10.128.0.60"  # ":0": Istio took it from X-Forwarded-For


def test_cri_wrapped_line_uses_start_time_not_the_cri_time() -> None:
    event = corpus_event(ELASTIC + "istio-test-access_container_logs.first4.log", 0)
    assert event.time == datetime(2022, 7, 22, 12, 24, 9, 217000, tzinfo=UTC)
    assert event.outcome == "error"  # 0 DC: the client went away before any response
    assert event.resource == "reviews.default.svc.cluster.local/reviews/0"


def test_envoy_default_format() -> None:
    objects = corpus_objects(ELASTIC + "envoyproxy-test-log.log")
    tcp = event_of(objects[0])
    assert (tcp.action, tcp.resource, tcp.outcome) == ("TCP", "172.27.0.2/", "success")
    assert len(tcp.event_id) == 32  # no request id: a hash of the line
    http = event_of(objects[1])
    assert (http.action, http.resource, http.outcome) == ("GET", "localhost/service/1", "success")
    assert http.source_ip is None and http.raw_principal == ""
    not_found = event_of(objects[2])
    assert not_found.source_ip == "172.17.0.3"  # no remote address field: X-Forwarded-For
    assert (not_found.outcome, not_found.error_code) == ("error", "NR")


def test_ambassador_access_prefix_and_docker_json_wrappers() -> None:
    objects = corpus_objects(ELASTIC + "envoyproxy-test-log.log")
    prefixed = event_of(objects[4])
    assert prefixed.resource == "localhost/backend/"
    wrapped = event_of(objects[5])
    assert wrapped.resource == "httpbin.org/httpbin/status/501"
    assert (wrapped.outcome, wrapped.error_code) == ("error", "501")
    tcp_failed = event_of(objects[6])
    assert (tcp_failed.action, tcp_failed.outcome, tcp_failed.error_code) == ("TCP", "error", "UF,URX")


def test_ztunnel_corpus_line() -> None:
    event = corpus_event(ISTIO_DOCS + "ztunnel-access-troubleshoot-ztunnel.log", 0)
    assert event.time == datetime(2024, 5, 4, 9, 59, 5, 28709, tzinfo=UTC)
    assert event.principal == "spiffe://cluster.local/ns/default/sa/curl"
    assert event.principal_kind == ev.SPIFFE
    assert event.raw_principal == "spiffe://cluster.local/ns/default/sa/curl"
    assert (event.action, event.resource) == ("TCP", "productpage.default.svc.cluster.local/")
    assert event.boundary == "productpage.default.svc.cluster.local"
    # the service's namespace (the host), not the workload's dst.namespace of this doc example
    assert event.namespace == "default"
    assert event.source_ip == "10.244.1.12"
    assert event.outcome == "success" and event.error_code is None


# -- hand-written, real-shaped records ----------------------------------------------------------

RID = "6f1c2b7e-8d2a-9c41-b0e3-1f6a2d7c9e55"


def istio_text(**fields: str) -> str:
    """An Istio default-format line (an inbound sidecar line for the orders service by default)."""
    f = {
        "start": "2026-03-05T10:11:12.345Z",
        "request": "GET /api/v1/orders/42?expand=items HTTP/1.1",
        "code": "200",
        "flags": "-",
        "details": "via_upstream",
        "term": "-",
        "xff": "-",
        "ua": "python-requests/2.31.0",
        "rid": RID,
        "authority": "orders.orders:8080",
        "upstream": "10.8.3.17:8080",
        "cluster": "inbound|8080||",
        "ula": "127.0.0.6:46011",
        "dla": "10.8.3.17:8080",
        "dra": "10.8.1.22:52144",
        "sni": "outbound_.8080_._.orders.orders.svc.cluster.local",
        "extra": "",
    } | fields
    return (
        f'[{f["start"]}] "{f["request"]}" {f["code"]} {f["flags"]} {f["details"]} {f["term"]} "-" 0 312 7 6 '
        f'"{f["xff"]}" "{f["ua"]}" "{f["rid"]}" "{f["authority"]}" "{f["upstream"]}" {f["cluster"]} '
        f"{f['ula']} {f['dla']} {f['dra']} {f['sni']} default{f['extra']}"
    )


def istio_json(**fields: Any) -> dict[str, Any]:
    """The corpus's first Istio JSON record, with fields replaced (None deletes a key)."""
    record = copy.deepcopy(
        orjson.loads(orjson.dumps(corpus_objects(ELASTIC + "istio-test-access-json-logs.log")[0]))
    )
    for key, value in fields.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def envoy_text(code: str, flags: str, upstream: str) -> str:
    return (
        f'[2026-03-05T10:11:12.345Z] "POST /v1/charge HTTP/1.1" {code} {flags} 0 19 1 - "10.2.0.9" '
        f'"Go-http-client/1.1" "{RID}" "payments.internal:8443" "{upstream}"'
    )


def test_spec_resource_example() -> None:
    event = event_of(istio_text())
    assert event.resource == "orders.orders.svc.cluster.local/api/v1/orders/42"  # no query string
    assert event.boundary == "orders.orders.svc.cluster.local"
    assert event.namespace == "orders"


@pytest.mark.parametrize(
    ("cluster", "sni", "authority", "host"),
    [
        (
            "outbound|9080|v1|reviews.default.svc.cluster.local",
            "-",
            "reviews:9080",
            "reviews.default.svc.cluster.local",
        ),
        (
            "inbound|9080||",
            "outbound_.9080_.v2_.reviews.default.svc.cluster.local",
            "x:1",
            "reviews.default.svc.cluster.local",
        ),
        (
            "inbound-vip|8080|http|orders.orders.svc.cluster.local",
            "-",
            "orders:8080",
            "orders.orders.svc.cluster.local",
        ),
        ("inbound|9080||", "-", "Reviews.Example.COM:443", "reviews.example.com"),
        ("-", "-", "[fd00::12]:8080", "[fd00::12]"),
        ("PassthroughCluster", "api.github.com", "api.github.com", "api.github.com"),
    ],
)
def test_destination_host_order(cluster: str, sni: str, authority: str, host: str) -> None:
    event = event_of(istio_text(cluster=cluster, sni=sni, authority=authority))
    assert event.boundary == host
    assert event.resource == host + "/api/v1/orders/42"


def test_namespace_only_from_service_names() -> None:
    assert event_of(istio_text(cluster="outbound|443||api.github.com")).namespace is None
    custom_domain = istio_text(cluster="outbound|80||ledger.finance.svc.corp.internal")
    assert event_of(custom_domain).namespace == "finance"


def test_downstream_peer_uri_san_is_the_principal() -> None:
    sans = "spiffe://cluster.local/ns/checkout/sa/checkout-api,spiffe://cluster.local/ns/checkout/sa/legacy"
    event = event_of(istio_json(downstream_peer_uri_san=sans))
    assert event.principal == "spiffe://cluster.local/ns/checkout/sa/checkout-api"
    assert event.principal_kind == ev.SPIFFE
    assert event.raw_principal == "spiffe://cluster.local/ns/checkout/sa/checkout-api"


def test_upstream_peer_uri_san_never_names_the_caller() -> None:
    event = event_of(
        istio_json(upstream_peer_uri_san="spiffe://cluster.local/ns/default/sa/bookinfo-reviews")
    )
    assert (event.principal, event.principal_kind) == ("", ev.UNATTRIBUTED)
    assert event.raw_principal == "10.124.0.13"


def test_spiffe_id_without_prefix_and_other_trust_domain() -> None:
    event = event_of(istio_json(source_principal="prod.acme.internal/ns/payments/sa/payments-api"))
    assert event.principal == "spiffe://prod.acme.internal/ns/payments/sa/payments-api"
    assert event.raw_principal == "prod.acme.internal/ns/payments/sa/payments-api"
    assert event.principal_kind == ev.SPIFFE


def test_xfcc_uri_of_the_first_element() -> None:
    xfcc = (
        'By=spiffe://cluster.local/ns/orders/sa/orders;Hash=8e1c0a5f;Subject="CN=gw,OU=edge;x";'
        "URI=spiffe://cluster.local/ns/istio-system/sa/old;URI=spiffe://cluster.local/ns/payments/sa/api,"
        "By=spiffe://cluster.local/ns/ledger/sa/ledger;URI=spiffe://cluster.local/ns/orders/sa/orders"
    )
    event = event_of(istio_json(x_forwarded_client_cert=xfcc))
    assert event.principal == "spiffe://cluster.local/ns/payments/sa/api"
    assert event.raw_principal == "spiffe://cluster.local/ns/payments/sa/api"


def test_peer_fields_with_placeholders_are_unattributed() -> None:
    event = event_of(
        istio_json(downstream_peer_uri_san="-", source_principal=None, x_forwarded_client_cert="-")
    )
    assert event.principal_kind == ev.UNATTRIBUTED


def test_spiffe_in_custom_text_fields_only_on_inbound_lines() -> None:
    extra = " spiffe://cluster.local/ns/frontend/sa/web"
    inbound = event_of(istio_text(extra=extra))
    assert inbound.principal == "spiffe://cluster.local/ns/frontend/sa/web"
    outbound = event_of(istio_text(extra=extra, cluster="outbound|8080||orders.orders.svc.cluster.local"))
    assert outbound.principal_kind == ev.UNATTRIBUTED  # there it could be the callee's certificate


@pytest.mark.parametrize(
    ("code", "flags", "details", "outcome"),
    [
        ("403", "-", "rbac_access_denied_matched_policy[none]", "denied"),
        ("403", "-", "rbac_access_denied_matched_policy[ns[orders]-policy[deny-writes]-rule[0]]", "denied"),
        ("403", "UAEX", "ext_authz_denied", "denied"),
        ("302", "UAEX", "ext_authz_denied", "denied"),  # ext-authz redirecting to a login page
        ("401", "-", "jwt_authn_access_denied{Jwt_is_missing}", "denied"),
        ("403", "-", "via_upstream", "error"),  # the application's own answer: the mesh allowed it
        ("401", "-", "via_upstream", "error"),
        ("403", "-", "ext_authz_error", "denied"),  # the proxy refused, not the application
        ("503", "UH", "no_healthy_upstream", "error"),
        ("404", "NR", "route_not_found", "error"),
        ("0", "DC", "downstream_remote_disconnect", "error"),
        ("201", "-", "via_upstream", "success"),
        ("304", "-", "via_upstream", "success"),
    ],
)
def test_outcome(code: str, flags: str, details: str, outcome: str) -> None:
    event = event_of(istio_text(code=code, flags=flags, details=details))
    assert event.outcome == outcome
    if outcome != "success":
        assert event.error_code == details


def test_envoy_default_403_with_and_without_upstream() -> None:
    assert event_of(envoy_text("403", "-", "-")).outcome == "denied"  # the proxy answered
    assert event_of(envoy_text("403", "-", "10.2.3.4:8443")).outcome == "error"  # the application did
    assert event_of(envoy_text("403", "UAEX", "-")).outcome == "denied"


def test_tcp_connection_refused_by_rbac() -> None:
    line = istio_text(
        request="- - -",
        code="0",
        details="-",
        term="rbac_access_denied_matched_policy[none]",
        cluster="inbound|5432||",
        sni="outbound_.5432_._.db.billing.svc.cluster.local",
        authority="-",
    )
    event = event_of(line)
    assert (event.action, event.resource, event.outcome) == ("TCP", "db.billing.svc.cluster.local/", "denied")


def test_json_numbers_as_strings_and_nulls() -> None:
    event = event_of(
        istio_json(response_code="403", response_code_details="rbac_access_denied_matched_policy[none]")
    )
    assert event.outcome == "denied"
    assert event_of(istio_json(user_agent=None, x_forwarded_for=None)).user_agent is None


def test_json_tcp_record() -> None:
    record = istio_json(
        method=None,
        path=None,
        protocol=None,
        response_code=0,
        upstream_cluster="outbound|3306||mysql.data.svc.cluster.local",
    )
    event = event_of(record)
    assert (event.action, event.resource, event.outcome) == (
        "TCP",
        "mysql.data.svc.cluster.local/",
        "success",
    )


def test_two_json_lines_of_one_request_share_the_event_id() -> None:
    client = istio_json(
        downstream_local_address="10.0.45.184:9080",
        downstream_remote_address="10.124.0.13:46520",
        upstream_cluster="outbound|9080||reviews.default.svc.cluster.local",
        requested_server_name=None,
        upstream_peer_uri_san="spiffe://cluster.local/ns/default/sa/bookinfo-reviews",
    )
    server = istio_json(downstream_peer_uri_san="spiffe://cluster.local/ns/default/sa/bookinfo-productpage")
    assert event_of(client).event_id == event_of(server).event_id


def test_request_without_id_is_hashed_stably() -> None:
    first, again = event_of(istio_text(rid="-")), event_of(istio_text(rid="-"))
    other = event_of(istio_text(rid="-", dra="10.8.1.23:52144"))
    assert first.event_id == again.event_id != other.event_id
    assert len(first.event_id) == 32


def test_wrappers() -> None:
    line = istio_text()
    expected = event_of(line)
    docker = {"log": line + "\n", "stream": "stdout", "time": "2026-03-05T10:11:12.400123456Z"}
    shipper = {"message": line, "kubernetes": {"namespace": "orders", "pod": {"name": "orders-7d9f"}}}
    cri = "2026-03-05T10:11:12.400123456Z stdout F " + line
    json_in_cri = "2026-03-05T10:11:12.400123456Z stdout F " + orjson.dumps(istio_json()).decode()
    json_in_message = {"message": orjson.dumps(istio_json()).decode(), "stream": "stdout"}
    for wrapped in (docker, shipper, cri, "ACCESS " + line):
        assert event_of(wrapped) == expected
    assert event_of(json_in_cri) == event_of(istio_json()) == event_of(json_in_message)
    assert event_of(line.encode()) == expected


def test_cri_partial_line() -> None:
    obj = "2026-03-05T10:11:12.400123456Z stdout P " + istio_text()[:80]
    assert error_of(obj).reason == "partial_line"


def test_quote_inside_a_client_field_is_refused_not_misread() -> None:
    forged_ua = (
        'x" "fake" "evil:80" "1.2.3.4:80" outbound|80||payments.prod.svc.cluster.local '
        "1.1.1.1:1 2.2.2.2:2 3.3.3.3:3 - default z"
    )
    assert error_of(istio_text(ua=forged_ua)).reason == "unrecognized_format"
    assert error_of(istio_text(ua='curl "7.1"')).reason == "unrecognized_format"


def test_istio_before_1_8_layout() -> None:
    line = (
        '[2020-05-11T08:45:02.123Z] "GET /productpage HTTP/1.1" 200 - "-" "-" 0 5183 48 47 "-" "curl/7.64.0" '
        '"b0a8f3c2-5d1e-4b8e-9c7a-2f6e1d3c4b5a" "productpage:9080" "127.0.0.1:9080" inbound|9080|http|'
        "productpage.default.svc.cluster.local 127.0.0.1:47320 10.44.0.7:9080 10.44.0.9:51562 "
        "outbound_.9080_._.productpage.default.svc.cluster.local default"
    )
    event = event_of(line)
    assert event.resource == "productpage.default.svc.cluster.local/productpage"
    assert event.source_ip == "10.44.0.9"


ZTUNNEL_DENIED = (
    "2026-02-11T14:03:27.518204Z\terror\taccess\tconnection complete\tsrc.addr=10.244.2.31:40522 "
    'src.workload="shadow-agent-6c9d8f7b5-q2x7k" src.namespace="agents" '
    'src.identity="spiffe://cluster.local/ns/agents/sa/shadow-agent" dst.addr=10.244.1.18:15008 '
    'dst.hbone_addr="10.244.1.18:8080" dst.service="diagnostics.ops.svc.cluster.local" '
    'dst.workload="diagnostics-5b7c9d-x1" dst.namespace="ops" '
    'dst.identity="spiffe://cluster.local/ns/ops/sa/diagnostics" direction="inbound" bytes_sent=0 '
    'bytes_recv=0 duration="0ms" '
    'error="connection closed due to policy rejection: allow policies exist, but none allowed"'
)


def test_ztunnel_policy_rejection() -> None:
    event = event_of(ZTUNNEL_DENIED)
    assert event.principal == "spiffe://cluster.local/ns/agents/sa/shadow-agent"
    assert (event.action, event.resource, event.namespace) == (
        "TCP",
        "diagnostics.ops.svc.cluster.local/",
        "ops",
    )
    assert event.outcome == "denied"
    assert event.error_code.startswith("connection closed due to policy rejection")


def test_ztunnel_plaintext_rejection_is_unattributed() -> None:
    line = (
        "2026-01-30T22:23:01.119792Z error access connection complete src.addr=10.217.0.2:44480 "
        'dst.addr=10.217.0.248:8080 dst.workload="golang-ex-6d957754b-nfbfv" dst.namespace="test" '
        'direction="inbound" bytes_sent=0 bytes_recv=0 duration="0ms" '
        'error="connection closed due to policy rejection: explicitly denied by: '
        'istio-system/istio_converted_static_strict"'
    )
    event = event_of(line)
    assert (event.principal_kind, event.raw_principal) == (ev.UNATTRIBUTED, "10.217.0.2")
    assert (event.resource, event.namespace, event.outcome) == ("10.217.0.248/", "test", "denied")


def test_ztunnel_outcomes() -> None:
    base = ZTUNNEL_DENIED.partition(" error=")[0]
    refused = event_of(
        base.replace("\terror\t", "\tinfo\t").replace('"inbound"', '"outbound"')
        + ' error="http status: 401 Unauthorized"'
    )
    assert refused.outcome == "denied"  # the source side of a destination policy rejection
    broken = event_of(base + ' error="io error: Connection reset by peer (os error 104)"')
    assert (broken.outcome, broken.error_code) == (
        "error",
        "io error: Connection reset by peer (os error 104)",
    )
    fine = event_of(base.replace("\terror\t", "\tinfo\t"))
    assert (fine.outcome, fine.error_code) == ("success", None)


def test_ztunnel_json_format() -> None:
    record = {
        "level": "error",
        "time": "2024-10-19T01:39:58.302311Z",
        "scope": "access",
        "message": "connection complete",
        "src.addr": "10.244.1.13:35262",
        "src.workload": "curl-deny",
        "src.namespace": "default",
        "src.identity": "spiffe://cluster.local/ns/default/sa/curl-deny",
        "dst.addr": "10.244.1.12:15008",
        "dst.hbone_addr": "10.244.1.12:8080",
        "dst.service": "handson.default.svc.cluster.local",
        "direction": "inbound",
        "bytes_sent": 0,
        "bytes_recv": 0,
        "duration": "0ms",
        "error": "connection closed due to policy rejection",
    }
    event = event_of(record)
    assert (event.principal, event.outcome) == ("spiffe://cluster.local/ns/default/sa/curl-deny", "denied")
    assert event.resource == "handson.default.svc.cluster.local/"
    assert isinstance(parse_one({**record, "scope": "xds"}), Skipped)


def test_ztunnel_lines_that_are_not_access_records() -> None:
    xds = "2024-05-04T09:58:01.122345Z info xds received response type_url=type.googleapis.com/istio.Address"
    assert parse_one(xds) == Skipped("ztunnel_not_access")
    opened = ZTUNNEL_DENIED.replace("connection complete", "connection opened").partition(" error=")[0]
    assert parse_one(opened) == Skipped("ztunnel_connection_opened")


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ("", "empty_record"),
        ("   \n", "empty_record"),
        ("hello world", "unrecognized_format"),
        ("[2026-03-05T10:11:12.345Z] garbage", "unrecognized_format"),
        ("2026-03-05 12 13 14", "unrecognized_format"),
        ('{"log": ', "invalid_json"),
        (42, "unrecognized_format"),
        (None, "unrecognized_format"),
        (["a"], "unrecognized_format"),
        ({"stream": "stdout"}, "unrecognized_format"),
        (b"\xff\xfe", "not_utf8"),
    ],
)
def test_unparseable_records(obj: object, reason: str) -> None:
    assert error_of(obj).reason == reason


def test_bad_time_and_bad_code() -> None:
    assert error_of(istio_text(start="yesterday")).reason == "bad_time"
    assert error_of(istio_json(start_time=None)).reason == "bad_time"
    assert error_of(istio_text(code="2OO")).reason == "bad_response_code"
    assert error_of(istio_json(response_code=[200])).reason == "bad_response_code"
    assert error_of(istio_json(response_code=True)).reason == "bad_response_code"


def test_wrappers_nested_too_deeply() -> None:
    obj: object = istio_text()
    for _ in range(6):
        obj = {"log": orjson.dumps(obj).decode()} if isinstance(obj, dict) else {"log": obj}
    assert error_of(obj).reason == "unrecognized_format"
