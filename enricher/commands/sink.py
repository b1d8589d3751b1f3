"""``enricher sink``: the verdicts topic into the verdict store (see ``enricher.adapters.kafka.sink``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

DEFAULT_METRICS_PORT = 9465  # beside the worker's 9464, so both can run on one host


def register(commands: Any) -> None:
    """Add ``sink`` to the CLI."""
    sink = commands.add_parser(
        "sink", help="store the verdicts topic in the verdict store (ENRICHER_DATABASE_URL)"
    )
    sink.add_argument(
        "--metrics-port",
        type=int,
        default=DEFAULT_METRICS_PORT,
        help=f"serve /metrics here on 127.0.0.1 (default {DEFAULT_METRICS_PORT}; 0 disables)",
    )
    sink.add_argument("--group", help="consumer group (default enricher-sink)")
    sink.set_defaults(handler=cmd_sink)


def cmd_sink(args: argparse.Namespace) -> int:
    """Migrate the store, then consume until SIGTERM/SIGINT."""
    from prometheus_client import start_http_server

    from enricher.adapters.kafka.sink import SINK_GROUP, VerdictSink
    from enricher.adapters.metrics import Metrics
    from enricher.adapters.store.migrate import upgrade_to_head
    from enricher.config import load_settings
    from enricher.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    log = logging.getLogger("enricher.sink")
    group = args.group or SINK_GROUP
    log.info(
        "starting sink",
        extra={"topic": settings.topic_verdicts, "group": group, "settings": settings.masked()},
    )
    upgrade_to_head(settings.database_url)
    metrics = Metrics()
    if args.metrics_port:
        start_http_server(args.metrics_port, addr="127.0.0.1", registry=metrics.registry)
    sink = VerdictSink(settings, metrics, group=group)
    signal.signal(signal.SIGTERM, lambda *_: sink.stop())
    signal.signal(signal.SIGINT, lambda *_: sink.stop())
    asyncio.run(sink.run())
    log.info("sink stopped", extra={"batches": sink.batches, "written": sink.written})
    return 0
