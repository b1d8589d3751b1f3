"""The ``enricher`` command line: argument parsing and dispatch only; the work lives elsewhere."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from enricher.errors import BaselineError, EnricherError

SOURCES = ("auto", "cloudtrail", "k8s_audit", "mesh")

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``enricher`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except BaselineError as exc:
        print(f"enricher: invalid baseline, nothing applied\n{exc}", file=sys.stderr)
        return 1
    except (EnricherError, OSError) as exc:
        print(f"enricher: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """All sub-commands; each sets ``handler``."""
    parser = argparse.ArgumentParser(prog="enricher", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    replay = commands.add_parser("replay", help="run the core over log files; verdicts to stdout")
    replay.add_argument("--baseline", required=True, help="baseline YAML file")
    replay.add_argument("--source", choices=SOURCES, default="auto")
    replay.add_argument("--output", choices=("verdicts", "ocsf"), default="verdicts")
    replay.add_argument("--deadletter", metavar="FILE", help="dead letters here (default: stderr)")
    replay.add_argument("inputs", nargs="+", metavar="INPUT", help="files (JSON, JSON lines, text, gzip) or -")
    replay.set_defaults(handler=cmd_replay)

    baseline = commands.add_parser("baseline", help="validate, import, export the entitlement baseline")
    bl = baseline.add_subparsers(title="baseline commands")
    validate = bl.add_parser("validate", help="check a baseline file; exit 1 with line-numbered errors")
    validate.add_argument("file")
    validate.set_defaults(handler=cmd_baseline_validate)
    return parser


def cmd_replay(args: argparse.Namespace) -> int:
    """``enricher replay``: see ``enricher.replay``."""
    from enricher.core.baseline import compile_baseline
    from enricher.core.baseline_file import load_baseline_file
    from enricher.replay import run_replay

    for path in args.inputs:
        if path != "-" and not Path(path).is_file():
            print(f"enricher: no such input file: {path}", file=sys.stderr)
            return 2
    baseline = compile_baseline(load_baseline_file(args.baseline), version=0)
    source = None if args.source == "auto" else args.source
    deadletters: BinaryIO
    if args.deadletter:
        deadletters = open(args.deadletter, "wb")  # noqa: SIM115 - closed below
    else:
        deadletters = sys.stderr.buffer
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


def cmd_baseline_validate(args: argparse.Namespace) -> int:
    """``enricher baseline validate FILE``."""
    from enricher.core.baseline_file import load_baseline_file

    doc = load_baseline_file(args.file)
    count = sum(len(i.entitlements) for i in doc.identities)
    print(f"{args.file}: valid ({len(doc.identities)} identities, {count} entitlements)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
