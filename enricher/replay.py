"""``enricher replay``: the core run over files, exactly as the workers run it over Kafka batches.

Input files may be JSON (one object, a bare array, a ``{"Records": [...]}`` body, an EventList),
JSON lines, or text access logs, optionally gzip-compressed; ``-`` is stdin. A whole-file JSON
document is one record (the parsers unwrap its envelope); anything else is one record per line.
"""

from __future__ import annotations

import gzip
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from enricher import __version__
from enricher.core.baseline import CompiledBaseline
from enricher.core.ocsf import ocsf_json
from enricher.core.pipeline import BatchResult, EnrichState, RawRecord, enrich, serialize_verdict
from enricher.core.verdict import EXPECTED, Verdict

BATCH = 2000
GZIP_MAGIC = b"\x1f\x8b"


def read_input(path: str) -> bytes:
    """All bytes of a file (or stdin for ``-``), gunzipped when compressed."""
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    if data[:2] == GZIP_MAGIC:
        data = gzip.decompress(data)
    return data


def iter_records(data: bytes, name: str, source: str | None) -> Iterator[RawRecord]:
    """Split one input into records: a whole JSON document, else one record per non-empty line."""
    stripped = data.strip()
    if stripped[:1] in (b"{", b"[") and b"\n" in stripped:
        try:
            orjson.loads(stripped)
        except orjson.JSONDecodeError:
            pass
        else:
            yield RawRecord(stripped, source, name, None, 1)
            return
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield RawRecord(line, source, name, None, number)


@dataclass
class ReplaySummary:
    """What stderr reports after a replay: counts only, so a long replay stays small in memory."""

    read: int = 0
    events: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)  # by "verdict/reason"
    out_of_scope: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)  # by error

    def add(self, result: BatchResult, read: int) -> None:
        """Count one enriched batch."""
        self.read += read
        self.events.update(result.events)
        self.verdicts.update(f"{v.verdict}/{v.reason}" for v in result.verdicts)
        self.out_of_scope.update(result.out_of_scope)
        self.skipped.update(result.skipped)
        self.duplicates += result.duplicates
        self.dead_letters.update(dl.error for dl in result.dead_letters)

    def render(self) -> str:
        """The human summary printed to stderr."""
        return "\n".join(
            (
                f"read {self.read} record(s); events {self.events.total()} ({_fmt(self.events)})",
                f"verdicts {self.verdicts.total()}: {_fmt(self.verdicts)}",
                f"out of scope {self.out_of_scope.total()}: {_fmt(self.out_of_scope)}",
                f"dropped {self.skipped.total() + self.duplicates}: "
                f"{_fmt(self.skipped + Counter(duplicate_event=self.duplicates))}",
                f"dead-lettered {self.dead_letters.total()}: {_fmt(self.dead_letters)}",
            )
        )


def _fmt(counts: Counter[str]) -> str:
    return ", ".join(f"{k}={n}" for k, n in sorted(counts.items()) if n) or "-"


VerdictSink = Callable[[list[Verdict]], None]


def run_replay(
    inputs: list[str],
    baseline: CompiledBaseline,
    *,
    source: str | None,
    out: BinaryIO,
    deadletters: BinaryIO,
    output: str = "verdicts",
    sink: VerdictSink | None = None,
) -> ReplaySummary:
    """Replay every input through the core; write verdicts (or OCSF findings) and dead letters.

    ``sink`` receives each batch's verdicts too (``--store`` writes them to the verdict store).
    """
    summary = ReplaySummary()
    state = EnrichState()
    batch: list[RawRecord] = []

    def flush() -> None:
        result = enrich(batch, baseline, state)
        summary.add(result, len(batch))
        batch.clear()
        if output == "ocsf":
            out.writelines(
                ocsf_json(v, __version__) + b"\n" for v in result.verdicts if v.verdict != EXPECTED
            )
        else:
            out.writelines(serialize_verdict(v) + b"\n" for v in result.verdicts)
        deadletters.writelines(dl.to_json() + b"\n" for dl in result.dead_letters)
        if sink is not None and result.verdicts:
            sink(result.verdicts)

    for path in inputs:
        for record in iter_records(read_input(path), path, source):
            batch.append(record)
            if len(batch) >= BATCH:
                flush()
    flush()
    out.flush()
    deadletters.flush()
    return summary
