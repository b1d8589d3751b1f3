"""One Envoy/Istio proxy access-log record (text or JSON, already split into fields) -> event.

Decisions recorded here (SPEC §4-§6 leave them open):

- Outcome. ``denied`` means the *mesh* refused: response details ``rbac_access_denied*``,
  ``ext_authz_denied``, ``jwt_authn_access_denied*``, the ``UAEX`` flag, or a TCP connection
  closed by RBAC (connection termination details ``rbac_access_denied*``), whatever the status
  (ext-authz may answer 302 to a login page); and any other 401/403 the proxy produced itself. A
  401/403 marked ``via_upstream`` is the application's own answer: mesh authorization passed, so
  it is ``error``. Where the format has no details field (Envoy default), a 401/403 with an
  upstream host is the application's answer and one without is the proxy's. Other status >= 400,
  and status 0 on HTTP (no response, e.g. ``DC``), are ``error``; a TCP line is ``error`` when it
  carries response flags (``UF``, ``UH`` ...), else ``success``.
- Source address. The downstream remote address (the direct peer; Istio already replaces it with
  the client address from ``X-Forwarded-For`` when the gateway trusts that many hops, the ``:0``
  ports in the corpus). ``X-Forwarded-For`` is client-supplied, so it is used only when the
  format logs no remote address (Envoy default), and then its last hop.
- Event id. ``x-request-id`` alone does not identify a request: applications propagate it to the
  calls they make (Bookinfo does; the corpus has ids on two different hops) and a client can set
  it. The id is ``<x-request-id>:<8 hex>`` (so it still starts with the request id SPEC §7 names),
  the hex a CRC-32 of source address, method and resource, which the client and server sidecar
  lines of one call agree on (the server line's SNI names the same host as the client line's
  ``outbound|`` cluster, and both see the client pod's address), so the pipeline's de-duplication
  merges exactly those two. A line without a request id is identified by a hash of the record.
"""

from __future__ import annotations

from typing import Final

from enricher.core import events as ev
from enricher.core.events import NormalizedEvent
from enricher.core.parsers._time import parse_rfc3339
from enricher.core.parsers.mesh_fields import (
    hop_digest,
    host_of,
    ip_of,
    last_forwarded_for,
    namespace_of,
    record_digest,
)
from enricher.errors import ParseError

_MESH_DENIALS: Final = ("rbac_access_denied", "ext_authz_denied", "jwt_authn_access_denied")
# Upstream clusters whose last part names the destination service: the client sidecar's
# ``outbound|PORT|SUBSET|HOST`` and a waypoint's ``inbound-vip|PORT|PROTOCOL|HOST``.
_NAMED_CLUSTERS: Final = frozenset({"outbound", "inbound-vip"})
# Response codes as logged (text: a string; JSON: a number or a numeric string; null or "-"
# when nothing was sent back, which Envoy otherwise logs as 0).
_STATUS: Final[dict[object, int]] = {
    **{str(code): code for code in range(1000)},
    **{code: code for code in range(1000)},
    None: 0,
    "-": 0,
}
_NAMESPACE_CACHE_MAX: Final = 4096
_namespaces: dict[str, str | None] = {}


def build_proxy_event(
    record: object,
    raw: object,
    start: str | None,
    method: str | None,
    path: str | None,
    protocol: str | None,
    code: object,
    flags: str | None,
    details: str | None,
    termination: str | None,
    xff: str | None,
    user_agent: str | None,
    request_id: str | None,
    authority: str | None,
    upstream_host: str | None,
    upstream_cluster: str | None,
    downstream_local: str | None,
    downstream_remote: str | None,
    sni: str | None,
    peer: tuple[str, str] | None,
) -> NormalizedEvent | ParseError:
    """Map one proxy access-log record to an event; ``"-"`` and None both mean "not logged".

    ``record`` is the access-log line or JSON object (hashed when there is no request id),
    ``raw`` what the caller handed in (kept on a ParseError), ``peer`` the caller's SPIFFE id
    (normalised, as logged) when the format carries one.
    """
    if start is None or start == "-":
        return ParseError("bad_time", "no START_TIME", raw)
    try:
        time = parse_rfc3339(start)
    except ValueError:
        return ParseError("bad_time", f"START_TIME {start[:64]!r} is not RFC 3339", raw)
    try:
        status = None if code.__class__ is bool else _STATUS.get(code)
    except TypeError:  # an unhashable JSON value (list, object)
        status = None
    if status is None:
        shown = repr(code[:32]) if isinstance(code, str) else f"of type {type(code).__name__}"
        return ParseError("bad_response_code", f"response code {shown}", raw)
    no_method = not method or method == "-"
    no_protocol = not protocol or protocol == "-"
    tcp = no_method and no_protocol
    if tcp:
        action = "TCP"
        path = "/"
    elif no_method or no_protocol or method is None:  # (the last test only narrows the type)
        # "- - HTTP/1.1" (a codec error: nothing parseable arrived) or "GET /x -"
        detail = f"method {(method or '')[:32]!r}, protocol {(protocol or '')[:32]!r}"
        return ParseError("bad_request_line", detail, raw)
    else:
        action = method.upper()
        path = _path_of(path)
    host = _destination(upstream_cluster, sni, authority, upstream_host, downstream_local)
    if host is None:
        return ParseError("no_destination", "no upstream cluster, SNI, authority or address", raw)
    flags = flags if flags and flags != "-" else None
    details = details if details and details != "-" else None
    source_ip = _source_ip(downstream_remote, xff)
    resource = host + path
    if not request_id or request_id == "-":
        event_id = record_digest(record)
    else:
        event_id = f"{request_id}:{hop_digest(f'{source_ip} {action} {resource}')}"
    outcome = _outcome(status, tcp, flags, details, termination, upstream_host)
    if peer is not None:
        principal, kind, raw_principal = peer[0], ev.SPIFFE, peer[1]
    else:
        principal, kind, raw_principal = "", ev.UNATTRIBUTED, source_ip or ""
    return NormalizedEvent(  # positional, as in the CloudTrail parser (hot path)
        "mesh",  # source
        "mesh",  # system
        event_id,
        time,
        principal,
        kind,  # principal_kind
        raw_principal,
        action,
        resource,
        outcome,
        None,  # session
        None,  # session_key
        (),  # via
        None,  # account
        None,  # region
        None,  # cluster
        _namespace(host),  # namespace
        source_ip,
        user_agent if user_agent and user_agent != "-" else None,
        None,  # change
        None,  # link
        None if outcome == "success" else (details or flags or str(status)),  # error_code
        host,  # boundary
    )


def _path_of(path: str | None) -> str:
    """The request path without its query string; ``/`` when there is none (CONNECT)."""
    if path is None or path == "-" or not path:
        return "/"
    query = path.find("?")
    if query >= 0:
        path = path[:query]
    if path[:1] == "/":
        return path
    scheme = path.find("://")
    if scheme > 0:  # absolute form, sent to a forward proxy: http://host/p -> /p
        slash = path.find("/", scheme + 3)
        return path[slash:] if slash > 0 else "/"
    return "/" + path


def _destination(
    cluster: str | None, sni: str | None, authority: str | None, upstream: str | None, local: str | None
) -> str | None:
    """The destination host: outbound cluster, then SNI, then authority, then an address."""
    if cluster is not None:
        host = _cluster_hosts.get(cluster)
        if host is None:
            host = _remember(_cluster_hosts, cluster, _cluster_host(cluster))
        if host:
            return host
    if sni is not None:
        host = _sni_hosts.get(sni)
        if host is None:
            host = _remember(_sni_hosts, sni, _sni_host(sni))
        if host:
            return host
    for address in (authority, upstream, local):
        if address and address != "-":
            host = host_of(address).lower()
            if host:
                return host
    return None


# Clusters and SNI names repeat on almost every line: their hosts ("" for none) are memoised.
_cluster_hosts: dict[str, str] = {}
_sni_hosts: dict[str, str] = {}


def _remember(memo: dict[str, str], key: str, host: str) -> str:
    if len(key) <= 512:  # a bounded memo: no giant keys from hostile input
        if len(memo) >= _NAMESPACE_CACHE_MAX:
            memo.clear()
        memo[key] = host
    return host


def _cluster_host(cluster: str) -> str:
    kind, sep, rest = cluster.partition("|")
    if sep and kind in _NAMED_CLUSTERS:
        return rest.rpartition("|")[2].lower()
    return ""


def _sni_host(sni: str) -> str:
    if sni.startswith("outbound_."):
        parts = sni.split("_.", 3)  # outbound_.PORT_.SUBSET_.HOST, SUBSET may be empty
        if len(parts) == 4:
            return parts[3].lower()
    return ""


def _namespace(host: str) -> str | None:
    # Destination hosts repeat on almost every line, so the answer is memoised.
    try:
        return _namespaces[host]
    except KeyError:
        pass
    if len(_namespaces) >= _NAMESPACE_CACHE_MAX:
        _namespaces.clear()
    found = _namespaces[host] = namespace_of(host)
    return found


def _source_ip(remote: str | None, xff: str | None) -> str | None:
    if remote and remote != "-":
        host, sep, _ = remote.rpartition(":")
        if sep and host and ":" not in host:  # IPv4 or a name, the common case
            return host
        return ip_of(remote) or None
    if xff and xff != "-":
        return last_forwarded_for(xff)
    return None


def _outcome(
    status: int,
    tcp: bool,
    flags: str | None,
    details: str | None,
    termination: str | None,
    upstream_host: str | None,
) -> str:
    if (
        (details is not None and details.startswith(_MESH_DENIALS))
        or (termination is not None and termination.startswith("rbac_access_denied"))
        or (flags is not None and "UAEX" in flags)
    ):
        return "denied"
    if status == 401 or status == 403:
        if details is not None:
            return "error" if details == "via_upstream" else "denied"
        return "error" if upstream_host and upstream_host != "-" else "denied"
    if tcp and status == 0:
        return "success" if flags is None else "error"
    if status >= 400 or status == 0:
        return "error"
    return "success"
