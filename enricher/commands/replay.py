"""``enricher replay``: the core over files (see ``enricher.replay``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, BinaryIO

SOURCES = ("auto", "cloudtrail", "k8s_audit", "mesh")


def register(commands: Any) -> None:
    """Add ``replay`` to the CLI."""
    replay = commands.add_parser("replay", help="run the core over log files; verdicts to stdout")
    replay.add_argument("--baseline", required=True, help="baseline YAML file")
    replay.add_argument("--source", choices=SOURCES, default="auto")
    replay.add_argument("--output", choices=("verdicts", "ocsf"), default="verdicts")
    replay.add_argument("--deadletter", metavar="FILE", help="dead letters here (default: stderr)")
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
    deadletters: BinaryIO = open(args.deadletter, "wb") if args.deadletter else sys.stderr.buffer  # noqa: SIM115
    try:
        summary = run_replay(
            args.inputs,
            baseline,
            source=source,
            out=sys.stdout.buffer,
            deadletters=deadletters,
            output=args.output,
        )
    finally:
        if args.deadletter:
            deadletters.close()
    print(summary.render(), file=sys.stderr)
    return 0
