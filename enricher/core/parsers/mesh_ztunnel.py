"""Istio ambient ztunnel access logs: L4 connections with SPIFFE identities.

Text: ``<ts> <level> access connection complete src.addr=... src.identity="spiffe://..." ...``
(level and scope separated by tabs or runs of spaces, values quoted or not); JSON
(``LOG_FORMAT=json``): the same fields as flat keys beside ``time``, ``level``, ``scope`` and
``message``. Each connection is logged once when it closes, by the source and again by the
destination ztunnel (``direction`` outbound / inbound); there is no request id to join the two, so
each line is its own event (an L4 hop), identified by a hash of the line.

Outcome: an ``error`` naming a policy rejection (the destination's ``connection closed due to
policy rejection: ...``), or the HTTP 401/403 the source ztunnel sees when the destination refuses
the HBONE tunnel, is ``denied``; any other ``error`` (or level ``error``) is ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from enricher.core import events as ev
from enricher.core.events import NormalizedEvent, Skipped
from enricher.core.parsers._time import parse_rfc3339
from enricher.core.parsers.mesh_fields import host_of, ip_of, namespace_of, record_digest, spiffe_id, text_of
from enricher.errors import ParseError

LEVELS: Final = frozenset({"trace", "debug", "info", "warn", "warning", "error"})
_WANTED: Final = (
    "src.addr",
    "src.identity",
    "dst.addr",
    "dst.hbone_addr",
    "dst.service",
    "dst.namespace",
    "error",
)
_NEEDLES: Final = tuple((key, f" {key}=") for key in _WANTED)
_DENIALS: Final = ("http status: 401", "http status: 403")


def parse_ztunnel_text(line: str, raw: object) -> NormalizedEvent | Skipped | ParseError:
    """Parse one ztunnel text log line (``<ts> <level> <scope> <message> key=value ...``)."""
    head = line.split(None, 3)
    if len(head) < 4 or head[1].lower() not in LEVELS:
        return ParseError("unrecognized_format", "not a ztunnel or access-log line", raw)
    stamp, level, scope, rest = head
    if scope != "access":
        return Skipped("ztunnel_not_access")
    return build_ztunnel_event(line, raw, stamp, level, rest, _fields(rest))


def _fields(rest: str) -> dict[str, str]:
    """The wanted ``key=value`` pairs. Keys are found by ``" key="``; values are bare or quoted.

    ztunnel writes ``error`` last and it is the one value that may carry free text, so the other
    keys are looked for only before it.
    """
    if "\t" in rest:
        rest = rest.replace("\t", " ")
    error_at = rest.find(" error=")
    limit = error_at if error_at >= 0 else len(rest)
    fields: dict[str, str] = {}
    for key, needle in _NEEDLES:
        at = rest.find(needle, 0, limit) if key != "error" else error_at
        if at < 0:
            continue
        start = at + len(needle)
        if rest[start : start + 1] == '"':
            end = rest.find('"', start + 1)
            while end > 0 and rest[end - 1] == "\\":
                end = rest.find('"', end + 1)
            value = rest[start + 1 : end] if end > 0 else rest[start + 1 :]
            if "\\" in value:
                value = value.replace('\\"', '"').replace("\\\\", "\\")
        else:
            end = rest.find(" ", start)
            value = rest[start:end] if end > 0 else rest[start:]
        fields[key] = value
    return fields


def parse_ztunnel_json(record: dict[str, object], raw: object) -> NormalizedEvent | Skipped | ParseError:
    """Parse one ztunnel JSON log record (flat ``src.*``/``dst.*`` keys)."""
    scope = record.get("scope")
    if scope is not None and scope != "access":
        return Skipped("ztunnel_not_access")
    stamp = text_of(record.get("time")) or text_of(record.get("timestamp"))
    level = text_of(record.get("level")) or "info"
    message = text_of(record.get("message")) or ""
    return build_ztunnel_event(record, raw, stamp, level, message, record)


def build_ztunnel_event(
    record: object,
    raw: object,
    stamp: str | None,
    level: str,
    message: str,
    fields: Mapping[str, object],
) -> NormalizedEvent | Skipped | ParseError:
    """Map one ztunnel access record (its fields as strings or JSON values) to an event."""
    if message.startswith("connection opened"):
        return Skipped("ztunnel_connection_opened")  # the "complete" line of the same connection follows
    if stamp is None:
        return ParseError("bad_time", "no timestamp", raw)
    try:
        time = parse_rfc3339(stamp)
    except ValueError:
        return ParseError("bad_time", f"timestamp {stamp[:64]!r} is not RFC 3339", raw)
    host = _destination(fields)
    if host is None:
        return ParseError("no_destination", "no dst.service or dst.addr", raw)
    source_addr = text_of(fields.get("src.addr"))
    source_ip = (ip_of(source_addr) or None) if source_addr is not None else None
    identity = text_of(fields.get("src.identity"))
    principal = spiffe_id(identity) if identity is not None else None
    error = text_of(fields.get("error"))
    if error is not None:
        outcome = "denied" if "policy rejection" in error or error.startswith(_DENIALS) else "error"
    else:
        outcome = "error" if level.lower() == "error" else "success"
    return NormalizedEvent(
        source="mesh",
        system="mesh",
        event_id=record_digest(record),
        time=time,
        principal=principal or "",
        principal_kind=ev.SPIFFE if principal else ev.UNATTRIBUTED,
        raw_principal=identity if principal and identity else (source_ip or ""),
        action="TCP",
        resource=host + "/",
        outcome=outcome,
        namespace=namespace_of(host) or text_of(fields.get("dst.namespace")),
        source_ip=source_ip,
        error_code=error if outcome != "success" else None,
        boundary=host,
    )


def _destination(fields: Mapping[str, object]) -> str | None:
    service = text_of(fields.get("dst.service"))
    if service is not None:
        return service.lower()
    for key in ("dst.hbone_addr", "dst.addr"):
        address = text_of(fields.get(key))
        if address is not None:
            host = host_of(address).lower()
            if host:
                return host
    return None
