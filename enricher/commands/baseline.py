"""``enricher baseline ...``: validate, import and export the entitlement baseline."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    """Add ``baseline`` and its sub-commands to the CLI."""
    baseline = commands.add_parser("baseline", help="validate, import, export the entitlement baseline")
    sub = baseline.add_subparsers(title="baseline commands")
    validate = sub.add_parser("validate", help="check a baseline file; exit 1 with line-numbered errors")
    validate.add_argument("file")
    validate.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """``enricher baseline validate FILE``: exit 0 when valid (BaselineError -> exit 1 in cli.main)."""
    from enricher.core.baseline_file import load_baseline_file

    doc = load_baseline_file(args.file)
    count = sum(len(i.entitlements) for i in doc.identities)
    print(f"{args.file}: valid ({len(doc.identities)} identities, {count} entitlements)")
    return 0
