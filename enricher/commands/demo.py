"""``enricher demo``: the whole pipeline on sample data (see ``enricher.demo``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add ``demo`` to the CLI."""
    demo = commands.add_parser(
        "demo",
        help="show the whole pipeline working on sample data (needs the local broker: make kafka-up)",
        description=(
            "Import the sample baseline into a fresh store in --workdir, start one worker, produce the "
            "sample records to the raw topics and show the verdicts that come out."
        ),
    )
    demo.add_argument(
        "--events",
        type=int,
        default=2000,
        metavar="N",
        help="generated records on top of the scenario (2000)",
    )
    demo.add_argument("--keep", action="store_true", help="leave the worker running afterwards")
    demo.add_argument(
        "--workdir", type=Path, default=Path(".demo"), help="store, logs and sample files (.demo)"
    )
    demo.add_argument(
        "--metrics-port", type=int, default=0, help="the worker's /metrics port (default: a free one)"
    )
    demo.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for every output once producing (60)"
    )
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo; exit 1 with a message when something failed."""
    from enricher.demo import DemoOptions, run_demo

    if args.events < 0:
        print("enricher: --events must be 0 or more")
        return 2
    options = DemoOptions(
        events=args.events,
        keep=args.keep,
        workdir=args.workdir,
        metrics_port=args.metrics_port,
        timeout_s=args.timeout,
    )
    return run_demo(options)
