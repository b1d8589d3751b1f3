"""Envoy and Istio text access-log lines (``[START_TIME] "METHOD PATH PROTOCOL" ...``).

Three layouts, told apart by their quoted fields (splitting the line on ``"`` leaves quoted
fields at odd positions and runs of bare fields at even ones):

- Istio default (1.8+), 7 quoted fields: ``... RESPONSE_CODE RESPONSE_FLAGS RESPONSE_CODE_DETAILS
  CONNECTION_TERMINATION_DETAILS "UPSTREAM_TRANSPORT_FAILURE_REASON" ... "UPSTREAM_HOST"
  UPSTREAM_CLUSTER UPSTREAM_LOCAL_ADDRESS DOWNSTREAM_LOCAL_ADDRESS DOWNSTREAM_REMOTE_ADDRESS
  REQUESTED_SERVER_NAME ROUTE_NAME``;
- Istio before 1.8, 8 quoted fields (a quoted mixer status instead of the two details fields);
- Envoy default, 6 quoted fields, no details, cluster or addresses; TCP proxies log ``"- - -"``.

Bare fields never hold spaces (Envoy writes ``_`` for whitespace in details). Envoy does not
escape quotes inside quoted fields, and the user agent, X-Forwarded-For, request id and
authority are chosen by the client: a ``"`` in one of them would shift every later field (a
forged user agent could name another upstream cluster), so a line whose quote count does not
fit its layout exactly is refused (``unrecognized_format``, a dead letter) rather than guessed.

Unquoted fields appended to the Istio layout (a customised format) are allowed. On an inbound
sidecar line the only peer certificate is the caller's, so a SPIFFE id among them (an added
``%DOWNSTREAM_PEER_URI_SAN%``) is the principal; on other lines it could be the callee's
(``%UPSTREAM_PEER_URI_SAN%``) and is ignored.
"""

from __future__ import annotations

from enricher.core.events import NormalizedEvent
from enricher.core.parsers.mesh_fields import first_spiffe
from enricher.core.parsers.mesh_proxy import build_proxy_event
from enricher.errors import ParseError


def parse_proxy_text(line: str, raw: object) -> NormalizedEvent | ParseError:
    """Parse one Istio or Envoy text access-log line (already stripped of any wrapper)."""
    seg = line.split('"')
    head = seg[0]
    if head[:1] != "[" or head[-2:] != "] ":
        return ParseError("unrecognized_format", "no [START_TIME] at the start of the line", raw)
    count = len(seg)
    if count == 15:
        found = _istio(line, raw, seg)
    elif count == 13:
        found = _envoy(line, raw, seg)
    elif count == 17:
        found = _istio_old(line, raw, seg)
    else:
        found = None
    if found is None:
        return ParseError("unrecognized_format", "fields do not fit the Istio or Envoy text layout", raw)
    return found


def _istio(line: str, raw: object, seg: list[str]) -> NormalizedEvent | ParseError | None:
    mid = seg[2].split()  # code flags details termination
    tail = seg[14].split()  # cluster upstream-local downstream-local downstream-remote sni route ...
    if len(mid) != 4 or len(tail) < 6 or not seg[6] == seg[8] == seg[10] == seg[12] == " ":
        return None
    request = seg[1].split(" ")
    if len(request) != 3:
        return _bad_request(seg, raw)
    cluster = tail[0]
    peer = _tail_peer(tail) if len(tail) > 6 and cluster.startswith("inbound|") else None
    return build_proxy_event(
        line, raw, _start_time(seg), request[0], request[1], request[2], mid[0], mid[1], mid[2], mid[3],
        seg[5], seg[7], seg[9], seg[11], seg[13], cluster, tail[2], tail[3], tail[4], peer,
    )  # fmt: skip


def _istio_old(line: str, raw: object, seg: list[str]) -> NormalizedEvent | ParseError | None:
    mid = seg[2].split()  # code flags
    tail = seg[16].split()
    if len(mid) != 2 or len(tail) < 6 or not seg[4] == seg[8] == seg[10] == seg[12] == seg[14] == " ":
        return None
    request = seg[1].split(" ")
    if len(request) != 3:
        return _bad_request(seg, raw)
    return build_proxy_event(
        line, raw, _start_time(seg), request[0], request[1], request[2], mid[0], mid[1], None, None,
        seg[7], seg[9], seg[11], seg[13], seg[15], tail[0], tail[2], tail[3], tail[4], None,
    )  # fmt: skip


def _envoy(line: str, raw: object, seg: list[str]) -> NormalizedEvent | ParseError | None:
    mid = seg[2].split()  # code flags bytes-received bytes-sent duration upstream-service-time
    if len(mid) != 6 or not seg[4] == seg[6] == seg[8] == seg[10] == " " or seg[12].strip():
        return None
    request = seg[1].split(" ")
    if len(request) != 3:
        return _bad_request(seg, raw)
    return build_proxy_event(
        line, raw, _start_time(seg), request[0], request[1], request[2], mid[0], mid[1], None, None,
        seg[3], seg[5], seg[7], seg[9], seg[11], None, None, None, None, None,
    )  # fmt: skip


def _start_time(seg: list[str]) -> str:
    """START_TIME from the first segment, ``[2022-07-22T12:24:09.217Z] ``."""
    return seg[0][1:-2]


def _bad_request(seg: list[str], raw: object) -> ParseError:
    return ParseError("bad_request_line", f"request line {seg[1][:64]!r}", raw)


def _tail_peer(tail: list[str]) -> tuple[str, str] | None:
    for token in tail[6:]:
        found = first_spiffe(token)
        if found is not None:
            return found
    return None
