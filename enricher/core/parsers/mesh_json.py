"""Istio JSON access-log records (``meshConfig.accessLogEncoding: JSON``).

The default JSON format has the text format's fields under snake_case keys; missing values are
``null`` or ``"-"`` and ``upstream_service_time`` (sometimes others) arrive as strings. Meshes that
want identities add custom keys; the caller's SPIFFE id is read, in this order, from
``downstream_peer_uri_san`` (``%DOWNSTREAM_PEER_URI_SAN%``: the peer certificate presented to
this proxy, i.e. the caller, on any hop), ``source_principal`` and the XFCC header. The
``upstream_peer_uri_san`` is the callee and never names the caller.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Final

from enricher.core.events import NormalizedEvent
from enricher.core.parsers.mesh_fields import first_spiffe, spiffe_id, text_of, xfcc_uri
from enricher.core.parsers.mesh_proxy import build_proxy_event
from enricher.errors import ParseError

_XFCC_KEYS: Final = ("x_forwarded_client_cert", "x-forwarded-client-cert", "xfcc")
# The text fields build_proxy_event takes, in its order (the response code stays as logged).
_KEYS: Final = (
    "start_time",
    "method",
    "path",
    "protocol",
    "response_flags",
    "response_code_details",
    "connection_termination_details",
    "x_forwarded_for",
    "user_agent",
    "request_id",
    "authority",
    "upstream_host",
    "upstream_cluster",
    "downstream_local_address",
    "downstream_remote_address",
    "requested_server_name",
)
# The default JSON format writes every key (null when unset): one C call reads them all.
_read_all: Final = itemgetter(*_KEYS)


def parse_istio_json(record: dict[str, object], raw: object) -> NormalizedEvent | ParseError:
    """Parse one decoded Istio JSON access-log record."""
    try:
        values = _read_all(record)
    except KeyError:  # a custom format that leaves keys out
        values = tuple(record.get(key) for key in _KEYS)
    # text_of for each value, with the plain-string and null cases (almost all) decided inline
    (
        start,
        method,
        path,
        protocol,
        flags,
        details,
        termination,
        xff,
        user_agent,
        request_id,
        authority,
        upstream_host,
        upstream_cluster,
        downstream_local,
        downstream_remote,
        sni,
    ) = [
        None
        if value is None
        else value
        if value.__class__ is str and value and value != "-"
        else text_of(value)
        for value in values
    ]
    return build_proxy_event(
        record,
        raw,
        start,
        method,
        path,
        protocol,
        record.get("response_code"),
        flags,
        details,
        termination,
        xff,
        user_agent,
        request_id,
        authority,
        upstream_host,
        upstream_cluster,
        downstream_local,
        downstream_remote,
        sni,
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
