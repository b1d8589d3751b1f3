"""Verdict records as the store keeps them: the row of one serialized verdict, and the page cursor.

The sink and ``replay --store`` turn every record into a row here; the checks keep every stored
row inside the schema's enumerations, which the repository's searches rely on.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from enricher.core.verdict import REASONS_BY_VERDICT, SEVERITIES

COLUMNS: Final = (
    "verdict_id", "event_id", "source", "system", "time", "verdict", "reason", "severity",
    "identity", "principal", "action", "resource", "outcome", "baseline_version", "record",
)  # fmt: skip
SYSTEM_OF_SOURCE: Final = {"cloudtrail": "aws", "k8s_audit": "k8s", "mesh": "mesh"}
SOURCES: Final = tuple(SYSTEM_OF_SOURCE)
OUTCOMES: Final = frozenset({"success", "denied", "error", None})
VERDICT_OF_REASON: Final = {
    reason: verdict for verdict, reasons in REASONS_BY_VERDICT.items() for reason in reasons
}

Row = tuple[Any, ...]


class BadVerdictRecord(ValueError):
    """A record that is not a verdict (not JSON, or a required field missing or mistyped)."""


@dataclass(frozen=True, slots=True)
class Page:
    """The keyset position after the last row of a page."""

    time: datetime
    verdict_id: str

    def encode(self) -> str:
        """Opaque urlsafe base64 of ``[time, verdict_id]``."""
        raw = orjson.dumps([self.time.isoformat(), self.verdict_id])
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, cursor: str) -> Page:
        """Inverse of :meth:`encode`; ``ValueError("bad cursor")`` for anything it did not make."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            when, verdict_id = orjson.loads(raw)
            time = datetime.fromisoformat(when)
            if time.tzinfo is None or not isinstance(verdict_id, str):
                raise ValueError("bad cursor")
            return cls(time.astimezone(UTC), verdict_id)
        except (ValueError, TypeError, OverflowError) as exc:  # JSONDecodeError is a ValueError
            raise ValueError("bad cursor") from exc


def verdict_row(record: bytes | Mapping[str, Any]) -> Row:
    """The column values of one serialized verdict (``record`` last, as JSON text).

    Raises :class:`BadVerdictRecord` for input that is not a verdict record: not a JSON object,
    a required field missing, or a value outside the schema's enumerations (which is what keeps
    every stored row inside the index branches the searches rely on). The sink calls this once
    per verdict, so it reads each field once and checks with plain lookups.
    """
    if isinstance(record, bytes | bytearray | memoryview):
        try:
            data = orjson.loads(record)
        except orjson.JSONDecodeError as exc:
            raise BadVerdictRecord(f"not JSON: {exc}") from exc
        if type(data) is not dict:
            raise BadVerdictRecord("not a JSON object")
        text = bytes(record).decode()
    else:
        data = dict(record)
        text = orjson.dumps(data, option=orjson.OPT_UTC_Z).decode()
    if "\\u0000" in text:
        # PostgreSQL text and jsonb cannot hold NUL; a log line can (mesh paths, user agents)
        data = _without_nul(data)
        text = orjson.dumps(data, option=orjson.OPT_UTC_Z).decode()
    try:
        row = (
            data["verdict_id"], data["event_id"], data["source"], data["system"], record_time(data["time"]),
            data["verdict"], data["reason"], data["severity"], data["identity"], data["principal"],
            data["action"], data["resource"], data["outcome"], data["baseline_version"], text,
        )  # fmt: skip
    except KeyError as exc:
        raise BadVerdictRecord(f"missing field {exc.args[0]!r}") from exc
    _check(row)
    return row


def _check(row: Row) -> None:
    verdict_id, event_id, source, system, _, verdict, reason, severity, *optional, outcome, version, _ = row
    if type(verdict_id) is not str or type(event_id) is not str or not verdict_id or not event_id:
        raise BadVerdictRecord("verdict_id and event_id must be non-empty text")
    if SYSTEM_OF_SOURCE.get(source) != system:
        raise BadVerdictRecord(f"unknown source/system {source!r}/{system!r}")
    if VERDICT_OF_REASON.get(reason) != verdict:
        raise BadVerdictRecord(f"unknown verdict/reason {verdict!r}/{reason!r}")
    if severity not in SEVERITIES or outcome not in OUTCOMES:
        raise BadVerdictRecord(f"unknown severity or outcome {severity!r}/{outcome!r}")
    for value in optional:
        if value is not None and type(value) is not str:
            raise BadVerdictRecord("identity, principal, action, resource must be text or null")
    if type(version) is not int:
        raise BadVerdictRecord("baseline_version must be an integer")


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def record_time(value: Any) -> datetime:
    """A record's ``time`` (RFC 3339 text or a datetime) as an aware UTC datetime."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError as exc:
            raise BadVerdictRecord(f"time is not RFC 3339: {value!r}") from exc
    else:
        raise BadVerdictRecord("time is not RFC 3339 text")
    if when.tzinfo is UTC:
        return when
    if when.tzinfo is None:
        raise BadVerdictRecord(f"time has no offset: {value!r}")
    return when.astimezone(UTC)
