"""The ``enricher`` command line: argument parsing and dispatch only; the work lives elsewhere."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from enricher.commands import api, baseline, demo, replay, sink, worker
from enricher.errors import BaselineError, EnricherError

Handler = Callable[[argparse.Namespace], int]

# Each command group registers its sub-commands; the order here is the order of ``--help``.
COMMAND_GROUPS = (replay, baseline, worker, sink, api, demo)


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
    parser = argparse.ArgumentParser(
        prog="enricher", description="Entitlement-aware runtime event enrichment."
    )
    commands = parser.add_subparsers(title="commands")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
