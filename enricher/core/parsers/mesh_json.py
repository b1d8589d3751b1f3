"""Istio JSON access-log records (``meshConfig.accessLogEncoding: JSON``).

The default JSON format has the text format's fields under snake_case keys; missing values are
``null`` or ``"-"`` and ``upstream_service_time`` (sometimes others) arrive as strings. Meshes that
want identities add custom keys; the caller's SPIFFE id is read, in this order, from
``downstream_peer_uri_san`` (``%DOWNSTREAM_PEER_URI_SAN%``: the peer certificate presented to
this proxy, i.e. the caller, on any hop), ``source_principal`` and the XFCC header. The
``upstream_peer_uri_san`` is the callee and never names the caller.
"""

from __future__ import annotations

from typing import Final

from enricher.core.events import NormalizedEvent
from enricher.core.parsers.mesh_fields import first_spiffe, spiffe_id, text_of, xfcc_uri
from enricher.core.parsers.mesh_proxy import build_proxy_event
from enricher.errors import ParseError

_XFCC_KEYS: Final = ("x_forwarded_client_cert", "x-forwarded-client-cert", "xfcc")


def parse_istio_json(record: dict[str, object], raw: object) -> NormalizedEvent | ParseError:
    """Parse one decoded Istio JSON access-log record."""
    get = record.get
    return build_proxy_event(
        record,
        raw,
        text_of(get("start_time")),
        text_of(get("method")),
        text_of(get("path")),
        text_of(get("protocol")),
        get("response_code"),
        text_of(get("response_flags")),
        text_of(get("response_code_details")),
        text_of(get("connection_termination_details")),
        text_of(get("x_forwarded_for")),
        text_of(get("user_agent")),
        text_of(get("request_id")),
        text_of(get("authority")),
        text_of(get("upstream_host")),
        text_of(get("upstream_cluster")),
        text_of(get("downstream_local_address")),
        text_of(get("downstream_remote_address")),
        text_of(get("requested_server_name")),
        _peer(record),
    )


def _peer(record: dict[str, object]) -> tuple[str, str] | None:
    san = record.get("downstream_peer_uri_san")
    if isinstance(san, str) and san != "-":
        found = first_spiffe(san)
        if found is not None:
            return found
    principal = record.get("source_principal")
    if isinstance(principal, str) and principal != "-":
        normalised = spiffe_id(principal)
        if normalised is not None:
            return normalised, principal
    for key in _XFCC_KEYS:
        header = record.get(key)
        if isinstance(header, str) and header != "-":
            return xfcc_uri(header)
    return None
