"""``enricher baseline ...``: validate, import, export the entitlement baseline and show its history.

``import`` and ``export`` work on the store named by ``ENRICHER_DATABASE_URL`` (SQLite
``./enricher.db`` by default), migrated to the newest schema first. A file that does not validate
changes nothing (exit 1, line-numbered problems); a store that cannot be reached exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from enricher.adapters.store.baseline_repo import BaselineRepository, ChangeResult
    from enricher.config import Settings
    from enricher.core.model import BaselineDocument

T = TypeVar("T")

# How long an import waits for the broker before it gives up on the change feed (with a warning).
FEED_TIMEOUT_S = 5.0


def register(commands: Any) -> None:
    """Add ``baseline`` and its sub-commands to the CLI."""
    baseline = commands.add_parser("baseline", help="validate, import, export the entitlement baseline")
    sub = baseline.add_subparsers(title="baseline commands")
    validate = sub.add_parser("validate", help="check a baseline file; exit 1 with line-numbered errors")
    validate.add_argument("file")
    validate.set_defaults(handler=cmd_validate)

    imp = sub.add_parser(
        "import",
        help="make the store's baseline exactly FILE (validated first; one new baseline_version)",
    )
    imp.add_argument("file")
    imp.add_argument("--author", help="recorded in the change history (default: the login name)")
    imp.add_argument(
        "--no-publish", action="store_true", help="do not write the change feed (ENRICHER_TOPIC_BASELINE)"
    )
    imp.set_defaults(handler=cmd_import)

    export = sub.add_parser("export", help="write the store's baseline as a baseline file")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    export.set_defaults(handler=cmd_export)

    history = sub.add_parser("history", help="list baseline changes, newest first")
    history.add_argument("--identity", help="only the changes that touched this identity id")
    history.add_argument("--limit", type=int, default=50, help="at most this many changes (default 50)")
    history.set_defaults(handler=cmd_history)


def cmd_validate(args: argparse.Namespace) -> int:
    """``enricher baseline validate FILE``: exit 0 when valid (BaselineError -> exit 1 in cli.main)."""
    from enricher.core.baseline_file import load_baseline_file

    doc = load_baseline_file(args.file)
    count = sum(len(i.entitlements) for i in doc.identities)
    print(f"{args.file}: valid ({len(doc.identities)} identities, {count} entitlements)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Validate FILE, then replace the store's baseline with it in one versioned change."""
    from enricher.config import load_settings
    from enricher.core.baseline_file import load_baseline_file

    settings = load_settings()
    doc = load_baseline_file(args.file)  # a bad file stops here: the store is not even opened
    author = args.author or _login_name()
    summary = f"import {Path(args.file).name}"
    result = _with_store(settings, lambda repo: repo.import_document(doc, author=author, summary=summary))
    if not (result.upserted or result.deleted or result.settings_changed):
        print(
            f"baseline version {result.version}: no changes ({len(doc.identities)} identities already current)"
        )
        return 0
    settings_note = ", settings changed" if result.settings_changed else ""
    print(
        f"baseline version {result.version}: {len(result.upserted)} identities upserted, "
        f"{len(result.deleted)} deleted{settings_note}"
    )
    if not args.no_publish:
        _publish(settings, doc, result)
    return 0


def _publish(settings: Settings, doc: BaselineDocument, result: ChangeResult) -> None:
    """Write the change feed; a broker that does not answer is a warning, not a failure."""
    from enricher.adapters.kafka.baseline_feed import FeedError, ensure_baseline_topic, publish_delta
    from enricher.adapters.store.baseline_repo import BaselineDelta, canonical_identity

    upserted = set(result.upserted)
    delta = BaselineDelta(
        version=result.version,
        upserts=tuple(canonical_identity(i) for i in doc.identities if i.id in upserted),
        deletes=result.deleted,
        settings=doc.settings if result.settings_changed else None,
    )
    try:
        ensure_baseline_topic(settings, timeout=FEED_TIMEOUT_S)
        count = publish_delta(settings, delta, timeout=FEED_TIMEOUT_S)
    except FeedError as exc:
        print(
            f"enricher: warning: change feed {settings.topic_baseline} not written ({exc}); "
            "workers still pick the change up from the store",
            file=sys.stderr,
        )
        return
    print(f"change feed: {count} record(s) written to {settings.topic_baseline}")


def cmd_export(args: argparse.Namespace) -> int:
    """Print (or write) the store's baseline as YAML; importing it back changes nothing."""
    from enricher.config import load_settings
    from enricher.core.baseline_file import dump_baseline

    doc, version = _with_store(load_settings(), lambda repo: repo.load_snapshot())
    text = dump_baseline(doc)
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        count = sum(len(i.entitlements) for i in doc.identities)
        print(
            f"{args.output}: baseline version {version} "
            f"({len(doc.identities)} identities, {count} entitlements)",
            file=sys.stderr,
        )
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """One line per change: version, time, author, summary and what it touched."""
    from enricher.config import load_settings

    rows = _with_store(
        load_settings(), lambda repo: repo.history(limit=args.limit, identity_id=args.identity)
    )
    if not rows:
        print("no baseline changes" + (f" for identity {args.identity}" if args.identity else ""))
    for row in rows:
        print(_history_line(row))
    return 0


def _history_line(row: dict[str, object]) -> str:
    change = row["change"] if isinstance(row["change"], dict) else {}
    upserted, deleted = change.get("upserted", []), change.get("deleted", [])
    parts = [f"{len(upserted)} upserted", f"{len(deleted)} deleted"]
    if change.get("settings"):
        parts.append("settings")
    if len(upserted) + len(deleted) <= 3:
        parts += [f"+{i}" for i in upserted] + [f"-{i}" for i in deleted]
    changed_at = row["changed_at"]
    when = changed_at.isoformat(timespec="seconds") if hasattr(changed_at, "isoformat") else changed_at
    return f"{row['version']:>6}  {when}  {row['author']}  {row['summary'] or '-'}  ({', '.join(parts)})"


# ------------------------------------------------------------------------------------------ helpers


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "enricher-cli"


def _with_store(settings: Settings, work: Callable[[BaselineRepository], Awaitable[T]]) -> T:
    """Migrate the store to the newest schema, then run ``work`` on its baseline repository.

    Database errors become ``BaselineUnavailable`` (exit 2 with the reason, no traceback).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from enricher.adapters.store.migrate import upgrade_to_head
    from enricher.config import mask_url_password
    from enricher.errors import BaselineUnavailable

    try:
        upgrade_to_head(settings.database_url)
        return asyncio.run(_run(settings.database_url, work))
    except (SQLAlchemyError, OSError) as exc:
        where = mask_url_password(settings.database_url)
        raise BaselineUnavailable(f"baseline store {where} unavailable: {exc}") from exc


async def _run(url: str, work: Callable[[BaselineRepository], Awaitable[T]]) -> T:
    from enricher.adapters.store.baseline_repo import BaselineRepository
    from enricher.adapters.store.engine import create_engine_for

    engine = create_engine_for(url)
    try:
        return await work(BaselineRepository(engine))
    finally:
        await engine.dispose()
