"""``enricher api``: serve the responder HTTP API; ``enricher api token ...``: manage its tokens."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


def register(commands: Any) -> None:
    """Add ``api`` (serve) and ``api token create|revoke|list`` to the CLI."""
    api = commands.add_parser("api", help="serve the HTTP API; manage its bearer tokens")
    api.add_argument("--host", help="listen address (default ENRICHER_API_HOST or 127.0.0.1)")
    api.add_argument("--port", type=int, help="listen port (default ENRICHER_API_PORT or 8080)")
    api.add_argument(
        "--no-migrate", action="store_true", help="do not migrate the store to the newest schema first"
    )
    api.set_defaults(handler=cmd_serve)
    sub = api.add_subparsers(title="api commands")
    token = sub.add_parser("token", help="create, revoke, list API tokens")
    tokens = token.add_subparsers(title="token commands")

    create = tokens.add_parser("create", help="create a token; prints it once (only its hash is stored)")
    create.add_argument("name", help="who holds it, e.g. ci-reader (1-64 of A-Z a-z 0-9 . _ @ -)")
    create.add_argument(
        "--scopes", required=True, help="comma-separated: read, baseline:write (implies read)"
    )
    create.set_defaults(handler=cmd_token_create)

    revoke = tokens.add_parser("revoke", help="revoke a token (it stays listed, its name stays taken)")
    revoke.add_argument("name")
    revoke.set_defaults(handler=cmd_token_revoke)

    listing = tokens.add_parser("list", help="list tokens (names, scopes, created, revoked)")
    listing.set_defaults(handler=cmd_token_list)
    token.set_defaults(handler=lambda _args: _usage(token))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _with_tokens(work: Callable[[Any], Awaitable[T]]) -> T:
    """Migrate the store, then run ``work(TokenRepository)`` on a fresh engine."""
    from enricher.adapters.store.engine import create_engine_for
    from enricher.adapters.store.migrate import upgrade_to_head
    from enricher.adapters.store.token_repo import TokenRepository
    from enricher.config import load_settings

    settings = load_settings()
    upgrade_to_head(settings.database_url)

    async def run() -> T:
        engine = create_engine_for(settings.database_url)
        try:
            return await work(TokenRepository(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_token_create(args: argparse.Namespace) -> int:
    """Create a token; the secret goes to stdout alone (easy to capture), the notice to stderr."""
    from enricher.adapters.store.token_repo import check_name, parse_scopes

    name = check_name(args.name)
    scopes = parse_scopes(args.scopes)
    token = _with_tokens(lambda repo: repo.create(name, scopes))
    print(token)
    print(
        f"enricher: created token {name!r} with scopes {', '.join(scopes)}; "
        "it is shown only this once, store it now",
        file=sys.stderr,
    )
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    """Revoke a token by name."""
    info = _with_tokens(lambda repo: repo.revoke(args.name))
    assert info.revoked_at is not None
    print(f"token {info.name!r} revoked (at {info.revoked_at.isoformat(timespec='seconds')})")
    return 0


def cmd_token_list(_args: argparse.Namespace) -> int:
    """One line per token: name, scopes, created, revoked (or ``active``)."""
    infos = _with_tokens(lambda repo: repo.list_tokens())
    for info in infos:
        revoked = (
            "active"
            if info.revoked_at is None
            else f"revoked {info.revoked_at.isoformat(timespec='seconds')}"
        )
        print(
            f"{info.name}\t{','.join(info.scopes)}\tcreated {info.created_at.isoformat(timespec='seconds')}\t{revoked}"
        )
    if not infos:
        print("no tokens (create one with: enricher api token create NAME --scopes read)", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the API under uvicorn until SIGTERM/SIGINT; logs are JSON lines like the workers'."""
    import logging

    import uvicorn

    from enricher.adapters.api import create_app
    from enricher.adapters.store.migrate import upgrade_to_head
    from enricher.config import load_settings
    from enricher.logs import configure_logging

    settings = load_settings(api_host=args.host, api_port=args.port)
    configure_logging(settings.log_level)
    log = logging.getLogger("enricher.api")
    log.info("starting api", extra={"settings": settings.masked()})
    if not args.no_migrate:
        upgrade_to_head(settings.database_url)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,  # uvicorn's loggers propagate to the JSON root handler
        log_level=settings.log_level.lower(),
        server_header=False,
    )
    log.info("api stopped")
    return 0
