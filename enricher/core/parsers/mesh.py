"""Service-mesh (Envoy/Istio) access logs -> normalized events (SPEC §3-§6).

One record is one access-log line, in any of the shapes collectors deliver it:

- a text line: Istio or Envoy text format (``mesh_text``), optionally behind Ambassador's
  ``ACCESS `` prefix, or a ztunnel line (``mesh_ztunnel``);
- the same behind a CRI prefix (``<ts> stdout F <line>``, what containerd writes);
- a decoded JSON object: an Istio JSON access log (``mesh_json``), a ztunnel JSON log, or a
  collector's wrapper around the line: Docker's ``{"log": ...}`` or a shipper's
  ``{"message": ..., "kubernetes": {...}}``, whose inner line is text or JSON again.

Every record yields exactly one item: an event, a ``Skipped`` (a ztunnel line that is not an
access record) or a ``ParseError`` whose ``raw`` is the record as handed in. Nothing raises:
an unforeseen exception becomes a ``malformed`` ParseError (the fuzz tests assert none occurs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import orjson

from enricher.core.events import NormalizedEvent, Skipped
from enricher.core.parsers.mesh_json import parse_istio_json
from enricher.core.parsers.mesh_text import parse_proxy_text
from enricher.core.parsers.mesh_ztunnel import parse_ztunnel_json, parse_ztunnel_text
from enricher.errors import ParseError

Item = NormalizedEvent | Skipped | ParseError

_MAX_DEPTH: Final = 4  # wrappers inside wrappers: CRI around Docker JSON around JSON ...
_CRI_STREAMS: Final = ("stdout ", "stderr ")
_WRAPPER_KEYS: Final = ("log", "message")
_ZTUNNEL_KEYS: Final = ("src.addr", "dst.addr", "src.identity", "dst.service")


def parse_mesh(obj: object) -> Iterator[Item]:
    """Parse one mesh record (a text line or decoded JSON) into one event, skip or parse error."""
    yield parse_mesh_record(obj)


def parse_mesh_record(obj: object) -> Item:
    """The one item of a mesh record: what ``parse_mesh`` yields, without the generator."""
    try:
        return _parse(obj, obj, 0)
    except Exception as exc:  # last resort: a parser bug must not stop the stream
        # Every expected failure has its own reason; the fuzz tests assert this one never fires.
        return ParseError("malformed", f"{type(exc).__name__}: {str(exc)[:200]}", obj)


def _parse(obj: object, raw: object, depth: int) -> Item:
    if isinstance(obj, str):
        return _parse_text(obj, raw, depth)
    if isinstance(obj, dict):
        return _parse_object(obj, raw, depth)
    if isinstance(obj, bytes | bytearray):
        try:
            return _parse_text(bytes(obj).decode("utf-8"), raw, depth)
        except UnicodeDecodeError:
            return ParseError("not_utf8", "the line is not UTF-8", raw)
    return ParseError(
        "unrecognized_format", f"expected a text line or a JSON object, got {type(obj).__name__}", raw
    )


def _parse_text(text: str, raw: object, depth: int) -> Item:
    line = text.strip()
    if not line:
        return ParseError("empty_record", "the line is empty", raw)
    first = line[0]
    if first == "[":
        return parse_proxy_text(line, raw)
    if first == "{":
        return _parse_json_text(line, raw, depth)
    if line.startswith("ACCESS "):  # Ambassador's prefix before the Envoy line
        return parse_proxy_text(line[7:].lstrip(), raw)
    if first.isdigit():
        rest = line.partition(" ")[2]
        if rest[:7] in _CRI_STREAMS and rest[8:9] in (" ", ""):
            return _parse_cri(rest[7:8], rest[9:], raw, depth)
        return parse_ztunnel_text(line, raw)
    return ParseError("unrecognized_format", "not an Envoy, Istio or ztunnel access-log line", raw)


def _parse_cri(tag: str, message: str, raw: object, depth: int) -> Item:
    """The CRI log format: ``<ts> <stream> <tag> <message>``, tag ``F`` (full) or ``P`` (partial)."""
    if tag == "P":
        # containerd splits lines longer than 16 KiB; a fragment is not a parseable record
        return ParseError("partial_line", "a CRI partial-line fragment (tag P)", raw)
    if tag != "F":
        return ParseError("unrecognized_format", f"unknown CRI tag {tag!r}", raw)
    if depth >= _MAX_DEPTH:
        return ParseError("unrecognized_format", "wrappers nested too deeply", raw)
    return _parse_text(message, raw, depth + 1)


def _parse_json_text(line: str, raw: object, depth: int) -> Item:
    if depth >= _MAX_DEPTH:
        return ParseError("unrecognized_format", "wrappers nested too deeply", raw)
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return ParseError("invalid_json", str(exc), raw)
    return _parse(obj, raw, depth + 1)


def _parse_object(record: dict[str, object], raw: object, depth: int) -> Item:
    if "start_time" in record or "response_code" in record:
        return parse_istio_json(record, raw)
    for key in _ZTUNNEL_KEYS:
        if key in record:
            return parse_ztunnel_json(record, raw)
    for key in _WRAPPER_KEYS:
        inner = record.get(key)
        if isinstance(inner, str | dict):
            if depth >= _MAX_DEPTH:
                return ParseError("unrecognized_format", "wrappers nested too deeply", raw)
            return _parse(inner, raw, depth + 1)
    return ParseError("unrecognized_format", "not an Istio JSON, ztunnel or wrapped access-log record", raw)
