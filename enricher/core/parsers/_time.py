"""RFC 3339 timestamps to aware UTC datetimes, shared by the parsers.

Log timestamps repeat a lot (CloudTrail has one-second precision, so a busy account logs many
events per distinct string), so parsed values are memoised in a small bounded cache; the cache is
dropped wholesale when full, which keeps the hit path a single dict lookup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

_CACHE_MAX: Final = 4096
_cache: dict[str, datetime] = {}
_fromisoformat = datetime.fromisoformat


def parse_rfc3339(value: str) -> datetime:
    """``2024-01-02T03:04:05Z`` (and the usual variants) -> aware UTC datetime; ValueError if not.

    Accepted beyond strict RFC 3339, because real exports carry them: a space instead of ``T``
    (Panther), any number of fractional digits (nanoseconds are truncated), lowercase ``t``/``z``,
    and no zone at all, read as UTC (every log source here writes UTC). Date-only values are refused.
    """
    hit = _cache.get(value)
    if hit is not None:
        return hit
    parsed = _parse(value)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[value] = parsed
    return parsed


def _parse(value: str) -> datetime:
    if type(value) is not str or not 16 <= len(value) <= 64:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    try:
        parsed = _fromisoformat(value)
    except ValueError:
        parsed = _fromisoformat(value.upper())  # lowercase "t"/"z"; raises again if still bad
    tz = parsed.tzinfo
    if tz is None:
        return parsed.replace(tzinfo=UTC)
    if tz is UTC:
        return parsed
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # "0001-01-01T00:00:00+01:00" falls before year 1 in UTC
        raise ValueError(f"timestamp out of range: {value!r}") from exc
