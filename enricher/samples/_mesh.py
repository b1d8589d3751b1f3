"""Mesh access-log sample records: Istio sidecars (JSON and default TEXT) and an ambient ztunnel.

The JSON lines use Istio's default JSON fields plus ``downstream_peer_uri_san``
(``%DOWNSTREAM_PEER_URI_SAN%``), which a mesh adds to name the caller's SPIFFE id; they are the
server-side (inbound) sidecar's lines, where that certificate is the caller's. The default TEXT
line names no identity (unattributed: out of scope unless ``mesh_require_identity``), and one JSON
line arrives wrapped by the container runtime (``<ts> stdout F <line>``).
"""

from __future__ import annotations

from typing import Final

import orjson

from enricher.samples._scenario import TRUST_DOMAIN, Record, Round, sample

PAYMENTS_HOST: Final = "payments-api.payments.svc.cluster.local"
ORDERS_HOST: Final = "orders.orders.svc.cluster.local"
TICKETS_HOST: Final = "tickets.cx.svc.cluster.local"
ORDERS_POD: Final = "10.42.3.17"
AGENT_POD: Final = "10.42.4.19"


def _spiffe(namespace: str, account: str) -> str:
    return f"spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{account}"


def _inbound(
    r: Round,
    name: str,
    clock: str,
    method: str,
    path: str,
    code: int,
    host: str,
    caller: tuple[str, str, str],
    agent: str,
) -> Record:
    """An inbound sidecar's Istio JSON line; ``caller`` is (namespace, service account, pod IP).

    A 403 is an AuthorizationPolicy refusal (``rbac_access_denied_matched_policy[...]``): the
    request never reached the application, so there is no upstream host.
    """
    service = host.partition(".")[0]
    server_pod = {PAYMENTS_HOST: "10.42.2.15", ORDERS_HOST: "10.42.3.22", TICKETS_HOST: "10.42.6.14"}[host]
    denied = code == 403
    namespace, account, pod_ip = caller
    return {
        "authority": f"{service}.{host.split('.')[1]}:8080",
        "bytes_received": 0 if method in ("GET", "DELETE") else 412,
        "bytes_sent": 19 if denied else 1187,
        "connection_termination_details": None,
        "downstream_local_address": f"{server_pod}:8080",
        "downstream_peer_uri_san": _spiffe(namespace, account),
        "downstream_remote_address": f"{pod_ip}:{r.port(name)}",
        "duration": 0 if denied else 23,
        "method": method,
        "path": path,
        "protocol": "HTTP/1.1",
        "request_id": r.uid(name),
        "requested_server_name": f"outbound_.8080_._.{host}",
        "response_code": code,
        "response_code_details": "rbac_access_denied_matched_policy[none]" if denied else "via_upstream",
        "response_flags": "-",
        "route_name": "default",
        "start_time": r.at(clock, 3),
        "upstream_cluster": "inbound|8080||",
        "upstream_host": None if denied else f"{server_pod}:8080",
        "upstream_local_address": None if denied else f"127.0.0.6:{r.port(name + ':upstream')}",
        "upstream_service_time": None if denied else "21",
        "upstream_transport_failure_reason": None,
        "user_agent": agent,
        "x_forwarded_for": None,
    }


ORDERS: Final = ("orders", "orders", ORDERS_POD)
AGENT: Final = ("agents", "support-agent", AGENT_POD)
ORDERS_AGENT: Final = "orders/1.42.0 okhttp/4.12.0"
AGENT_UA: Final = "python-httpx/0.27.2"


@sample("mesh-orders-charge", "mesh")
def _orders_charge(r: Round) -> Record:
    return _inbound(
        r,
        "mesh-orders-charge",
        "10:01:31.204",
        "POST",
        "/api/v1/charges",
        201,
        PAYMENTS_HOST,
        ORDERS,
        ORDERS_AGENT,
    )


@sample("mesh-orders-status-denied", "mesh")
def _orders_status(r: Round) -> Record:
    # Approved in the baseline, refused by the mesh: the AuthorizationPolicy lacks the GET rule.
    return _inbound(
        r, "mesh-orders-status-denied", "10:01:32.880", "GET", "/api/v1/charges/ch_3PqK2xLm", 403,
        PAYMENTS_HOST, ORDERS, ORDERS_AGENT,
    )  # fmt: skip


@sample("mesh-orders-refund-denied", "mesh")
def _orders_refund(r: Round) -> Record:
    return _inbound(
        r, "mesh-orders-refund-denied", "10:01:35.017", "DELETE", "/api/v1/charges/ch_3PqK2xLm", 403,
        PAYMENTS_HOST, ORDERS, ORDERS_AGENT,
    )  # fmt: skip


@sample("mesh-payments-get-order", "mesh")
def _payments_get_order(r: Round) -> Record:
    caller = ("payments", "api", "10.42.2.15")
    return _inbound(
        r, "mesh-payments-get-order", "10:01:31.219", "GET", "/api/v1/orders/42", 200, ORDERS_HOST, caller,
        "Java-http-client/21.0.2",
    )  # fmt: skip


@sample("mesh-agent-ticket", "mesh")
def _agent_ticket(r: Round) -> Record:
    return _inbound(
        r,
        "mesh-agent-ticket",
        "10:09:05.551",
        "GET",
        "/api/v2/tickets/8812",
        200,
        TICKETS_HOST,
        AGENT,
        AGENT_UA,
    )


@sample("mesh-agent-admin-export", "mesh")
def _agent_export(r: Round) -> Record:
    # The tickets service let the agent call its admin export: allowed, but never approved.
    return _inbound(
        r, "mesh-agent-admin-export", "10:09:51.090", "GET", "/api/v2/admin/export?format=csv", 200,
        TICKETS_HOST, AGENT, AGENT_UA,
    )  # fmt: skip


@sample("mesh-agent-charge-cri", "mesh")
def _agent_charge(r: Round) -> str:
    # The AI agent calls the payments API, where it holds nothing; the line is the sidecar's
    # stdout as containerd writes it to the node's log file (CRI format).
    line = _inbound(
        r,
        "mesh-agent-charge-cri",
        "10:10:21.733",
        "POST",
        "/api/v1/charges",
        201,
        PAYMENTS_HOST,
        AGENT,
        AGENT_UA,
    )
    return f"{r.at('10:10:21.734102', 9, after=0.000000911)} stdout F {orjson.dumps(line).decode()}"


@sample("mesh-shadow-caller", "mesh")
def _shadow_caller(r: Round) -> Record:
    # A workload running as the `default` service account, which no identity lists.
    caller = ("default", "default", "10.42.5.77")
    return _inbound(
        r, "mesh-shadow-caller", "10:20:14.402", "GET", "/api/v1/charges/ch_3PqK2xLm", 200, PAYMENTS_HOST,
        caller, "curl/8.9.1",
    )  # fmt: skip


@sample("mesh-ztunnel-orders-db", "mesh")
def _ztunnel(r: Round) -> str:
    # Ambient mode: ztunnel logs each L4 connection with both SPIFFE identities.
    return (
        f"{r.at('10:02:11.482913', 6)}  info  access  connection complete "
        f'src.addr={ORDERS_POD}:{r.port("ztunnel")} src.workload="orders-6c8d9b7f4-kq2lp" '
        f'src.namespace="orders" src.identity="{_spiffe("orders", "orders")}" '
        f'dst.addr=10.42.5.9:15008 dst.hbone_addr="10.42.5.9:5432" '
        f'dst.service="orders-db.orders.svc.cluster.local" dst.workload="orders-db-0" '
        f'dst.namespace="orders" dst.identity="{_spiffe("orders", "orders-db")}" '
        f'direction="outbound" bytes_sent=5123 bytes_recv=20480 duration="153ms"'
    )


@sample("mesh-text-no-identity", "mesh")
def _text_line(r: Round) -> str:
    # Istio's default TEXT format from the client sidecar: no peer identity, so unattributed.
    return (
        f'[{r.at("10:09:05.539", 3)}] "GET /api/v2/tickets/8812 HTTP/1.1" 200 - via_upstream - "-" 0 1187 '
        f'24 23 "-" "{AGENT_UA}" "{r.uid("mesh-text-no-identity")}" "tickets.cx:8080" "10.42.6.14:8080" '
        f"outbound|8080||{TICKETS_HOST} {AGENT_POD}:{r.port('text-up')} 10.96.14.203:8080 "
        f"{AGENT_POD}:{r.port('text-down')} - default"
    )
