"""Turn raw bytes into normalized events: decode, detect the source, dispatch to its parser.

Parsers yield ``NormalizedEvent``, ``Skipped`` (valid but not judged) or ``ParseError`` (bad
sub-record) and never raise for bad input; ``decode_record`` raises ``ParseError`` for bytes that
are neither JSON nor a UTF-8 text line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

import orjson

from enricher.core.events import NormalizedEvent, Skipped
from enricher.core.parsers.cloudtrail import parse_cloudtrail, parse_cloudtrail_record
from enricher.core.parsers.k8s_audit import parse_k8s_audit, parse_k8s_record
from enricher.core.parsers.mesh import parse_mesh, parse_mesh_record
from enricher.errors import ParseError

ParseItem = NormalizedEvent | Skipped | ParseError
Parser = Callable[[object], Iterator[ParseItem]]

PARSERS: Final[dict[str, Parser]] = {
    "cloudtrail": parse_cloudtrail,
    "k8s_audit": parse_k8s_audit,
    "mesh": parse_mesh,
}

_CLOUDTRAIL_KEYS: Final = ("eventName", "eventSource", "Records", "digestStartTime", "userIdentity")
_K8S_KEYS: Final = ("auditID", "protoPayload")
_MESH_KEYS: Final = ("response_code", "upstream_cluster", "start_time", "authority", "log", "message")
_WHITESPACE: Final = b" \t\r\n"


def decode_record(data: bytes) -> object:
    """JSON when the record looks like JSON, else one UTF-8 text line (mesh access logs)."""
    head = data.lstrip(_WHITESPACE)[:1]
    if head == b"{":
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ParseError("invalid_json", str(exc)) from exc
    if head == b"[":
        # a JSON array, or an Envoy/Istio text line that starts with ``[START_TIME]``
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("not_utf8", str(exc)) from exc
    text = text.strip()
    if not text:
        raise ParseError("empty_record", "the record is empty")
    return text


def detect_source(obj: object) -> str | None:
    """Which log kind a decoded record is, from its shape; None when it is none of the three.

    The key tests are the tables above, spelled out: one ``in`` each, no loop (runs per record).
    """
    if type(obj) is not dict:
        if isinstance(obj, str):
            return "mesh"
        if not isinstance(obj, dict):
            return None
    if (
        "eventName" in obj
        or "eventSource" in obj
        or "Records" in obj
        or "digestStartTime" in obj
        or "userIdentity" in obj
    ):
        return "cloudtrail"
    if "auditID" in obj or "protoPayload" in obj:
        return "k8s_audit"
    kind = obj.get("kind")
    if kind == "Event" or kind == "EventList" or ("properties" in obj and "category" in obj):
        return "k8s_audit"
    if "detail" in obj and "detail-type" in obj:
        return "cloudtrail"
    if (
        "response_code" in obj
        or "upstream_cluster" in obj
        or "start_time" in obj
        or "authority" in obj
        or "log" in obj
        or "message" in obj
    ):
        return "mesh"
    return None


def parse_object(obj: object, source: str | None) -> Iterator[tuple[str | None, ParseItem]]:
    """Parse one decoded record, with its source given or detected (a bare array per element)."""
    if source is not None:
        for item in PARSERS[source](obj):
            yield source, item
        return
    if isinstance(obj, list):
        for element in obj:
            yield from parse_object(element, None) if not isinstance(element, list) else _unknown(element)
        return
    detected = detect_source(obj)
    if detected is None:
        yield from _unknown(obj)
        return
    for item in PARSERS[detected](obj):
        yield detected, item


def parse_single(obj: object, source: str | None) -> tuple[str, ParseItem] | None:
    """``(source, item)`` for a record of the common one-event shape, exactly as ``parse_object``
    would yield it but without its generators; None when the record needs ``parse_object`` (arrays,
    envelopes, bodies of many records, unknown shapes)."""
    if type(obj) is not dict:
        return ("mesh", parse_mesh_record(obj)) if source == "mesh" else None
    if source is None:
        if "eventName" in obj:  # checked first by detect_source too
            return "cloudtrail", parse_cloudtrail_record(obj)
        source = detect_source(obj)
    elif source == "cloudtrail":
        return (source, parse_cloudtrail_record(obj)) if "eventName" in obj else None
    if source == "mesh":
        return source, parse_mesh_record(obj)
    if source == "k8s_audit":
        item = parse_k8s_record(obj)
        return None if item is None else (source, item)
    return None


def _unknown(obj: object) -> Iterator[tuple[str | None, ParseItem]]:
    yield None, ParseError("unknown_source", "not a CloudTrail, Kubernetes audit or mesh record", raw=obj)
