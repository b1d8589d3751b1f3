"""``enricher replay``: the core over files (see ``enricher.replay``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from enricher.core.verdict import Verdict

SOURCES = ("auto", "cloudtrail", "k8s_audit", "mesh")


def register(commands: Any) -> None:
    """Add ``replay`` to the CLI."""
    replay = commands.add_parser("replay", help="run the core over log files; verdicts to stdout")
    replay.add_argument("--baseline", required=True, help="baseline YAML file")
    replay.add_argument("--source", choices=SOURCES, default="auto")
    replay.add_argument("--output", choices=("verdicts", "ocsf"), default="verdicts")
    replay.add_argument("--deadletter", metavar="FILE", help="dead letters here (default: stderr)")
    replay.add_argument(
        "--store",
        action="store_true",
        help="also write the verdicts to the verdict store (ENRICHER_DATABASE_URL), to backfill history",
    )
    replay.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="files (JSON, JSON lines, text, gzip) or -"
    )
    replay.set_defaults(handler=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay the inputs; summary on stderr; exit 0 when all input was read."""
    from enricher.core.baseline import compile_baseline
    from enricher.core.baseline_file import load_baseline_file
    from enricher.replay import run_replay

    for path in args.inputs:
        if path != "-" and not Path(path).is_file():
            print(f"enricher: no such input file: {path}", file=sys.stderr)
            return 2
    baseline = compile_baseline(load_baseline_file(args.baseline), version=0)
    source = None if args.source == "auto" else args.source
    store = None
    if args.store:
        try:
            store = _open_store()
        except Exception as exc:
            return _store_unavailable(exc)
    deadletters: BinaryIO = open(args.deadletter, "wb") if args.deadletter else sys.stderr.buffer  # noqa: SIM115
    try:
        summary = run_replay(
            args.inputs,
            baseline,
            source=source,
            out=sys.stdout.buffer,
            deadletters=deadletters,
            output=args.output,
            sink=store,
        )
    finally:
        if args.deadletter:
            deadletters.close()
        if store is not None:
            store.close()
    print(summary.render(), file=sys.stderr)
    if store is not None:
        print(f"stored {store.inserted} new verdict(s) of {store.seen} in {store.where}", file=sys.stderr)
    return 0


def _store_unavailable(exc: Exception) -> int:
    from enricher.adapters.store.verdict_repo import is_unavailable

    if not is_unavailable(exc):
        raise exc
    print(f"enricher: the verdict store is unavailable: {exc}", file=sys.stderr)
    return 2


def _open_store() -> StoreWriter:
    from enricher.adapters.store.migrate import upgrade_to_head
    from enricher.config import load_settings, mask_url_password

    url = load_settings().database_url
    upgrade_to_head(url)
    return StoreWriter(url, mask_url_password(url))


class StoreWriter:
    """``--store``: each replayed batch goes to the verdict store, on a private event loop.

    Inserts are idempotent (deterministic verdict ids), so replaying the same files twice stores
    each verdict once. On close, days found in PostgreSQL's default partition get their own.
    """

    def __init__(self, url: str, where: str) -> None:
        from enricher.adapters.store.engine import create_engine_for
        from enricher.adapters.store.verdict_repo import VerdictRepository

        self.where = where
        self.inserted = 0
        self.seen = 0
        self._runner = asyncio.Runner()
        self._engine = create_engine_for(url)
        self._repo = VerdictRepository(self._engine)

    def __call__(self, verdicts: list[Verdict]) -> None:
        from enricher.core.pipeline import serialize_verdict

        self.seen += len(verdicts)
        self.inserted += self._runner.run(self._repo.insert_many([serialize_verdict(v) for v in verdicts]))

    def close(self) -> None:
        """Split the default partition by day, release the connections and the loop."""
        try:
            self._runner.run(self._repo.ensure_partitions())
        finally:
            self._runner.run(self._engine.dispose())
            self._runner.close()
