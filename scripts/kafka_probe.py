"""Readiness probe for the local broker: a real metadata round-trip with confluent-kafka.

Exit 0 once the broker lists itself in cluster metadata, 1 on timeout, 2 when the watched
broker process (``--pid``) died first. Used by scripts/kafka.sh and the test fixtures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from confluent_kafka import KafkaException  # noqa: TID251 (scripts are not core)
from confluent_kafka.admin import AdminClient  # noqa: TID251


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); /proc tells it apart
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--pid", type=int, default=None)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    # librdkafka backs off reconnects up to 10 s by default: a broker that starts listening
    # right after a refused attempt would be noticed late
    admin = AdminClient(
        {
            "bootstrap.servers": args.bootstrap,
            "log_level": 0,
            "socket.timeout.ms": 2000,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 250,
        }
    )
    while True:
        if args.pid is not None and not _alive(args.pid):
            print(f"broker process {args.pid} exited", file=sys.stderr)
            return 2
        left = deadline - time.monotonic()
        if left <= 0:
            print(f"no Kafka metadata from {args.bootstrap} within {args.timeout:g}s", file=sys.stderr)
            return 1
        try:
            metadata = admin.list_topics(timeout=min(2.0, left))
        except KafkaException:
            time.sleep(0.2)
            continue
        if metadata.brokers:
            print(" ".join(f"{b.id}@{b.host}:{b.port}" for b in metadata.brokers.values()))
            return 0
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
