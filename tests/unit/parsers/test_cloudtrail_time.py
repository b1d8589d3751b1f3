"""The shared RFC 3339 helper, on the timestamp shapes the corpora carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enricher.core.parsers import _time
from enricher.core.parsers._time import parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-10-08T10:15:32Z", datetime(2024, 10, 8, 10, 15, 32, tzinfo=UTC)),  # CloudTrail
        ("2020-09-14T00:44:23.000Z", datetime(2020, 9, 14, 0, 44, 23, tzinfo=UTC)),  # Logstash @timestamp
        ("2017-12-19T19:14:52.371183Z", datetime(2017, 12, 19, 19, 14, 52, 371183, tzinfo=UTC)),  # k8s audit
        ("2024-12-12 16:04:32.000000000", datetime(2024, 12, 12, 16, 4, 32, tzinfo=UTC)),  # Panther, ns
        ("2024-06-02 20:27:12", datetime(2024, 6, 2, 20, 27, 12, tzinfo=UTC)),  # Panther, no zone
        ("2024-01-01T02:30:00+02:30", datetime(2024, 1, 1, 0, 0, tzinfo=UTC)),
        ("2024-01-01t00:00:00z", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_parses_to_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024-01-01",
        "Oct 8, 2024, 4:15:32 PM",
        "2024-13-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "x" * 100,
    ],
)
def test_rejects_what_is_not_a_timestamp(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_cache_is_bounded_and_returns_equal_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_time, "_CACHE_MAX", 2)
    monkeypatch.setattr(_time, "_cache", {})
    stamps = [f"2024-01-01T00:00:0{i}Z" for i in range(5)]
    for stamp in stamps + stamps:
        assert parse_rfc3339(stamp).second == int(stamp[-2])
    assert len(_time._cache) <= 2
