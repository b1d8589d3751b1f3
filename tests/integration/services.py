"""Bring the real services up for the integration tests, the same way the Makefile does.

The broker and PostgreSQL are started by ``scripts/kafka.sh`` and ``scripts/pg.sh``. A service that
already answers is reused and left running; one started here is stopped at the end of the session.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO / "scripts" / "kafka.sh"
PG_SCRIPT = REPO / "scripts" / "pg.sh"
# The same defaults and environment variables as scripts/kafka.sh and scripts/pg.sh, so that
# `make test KAFKA_PORT=29092 PG_PORT=25432` starts and tests the services on those ports.
DEFAULT_KAFKA_BOOTSTRAP = (
    f"{os.environ.get('KAFKA_HOST', '127.0.0.1')}:{os.environ.get('KAFKA_PORT', '19092')}"
)
DEFAULT_PG_URL = "postgresql+asyncpg://{user}:{password}@{host}:{port}/{db}".format(
    user=os.environ.get("PG_USER", "enricher"),
    password=os.environ.get("PG_PASSWORD", "enricher"),
    host=os.environ.get("PG_HOST", "127.0.0.1"),
    port=os.environ.get("PG_PORT", "15432"),
    db=os.environ.get("PG_DB", "enricher"),
)

T = TypeVar("T")


def unique_name(prefix: str) -> str:
    """A name no other test (or earlier run) uses: for topics, groups, transactional ids, databases."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def run_isolated(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh loop in a helper thread (safe from sync fixtures)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def split_hostport(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host, int(port)


def kafka_answers(bootstrap: str, timeout: float = 5.0) -> bool:
    """A metadata round-trip succeeds and lists at least one broker."""
    if not port_open(*split_hostport(bootstrap)):
        return False
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        return bool(admin.list_topics(timeout=timeout).brokers)
    except KafkaException:
        return False


def kafka_script(command: str, env: dict[str, str] | None = None, timeout: float = 300) -> None:
    """Run ``scripts/kafka.sh COMMAND`` with this interpreter as its probe's Python."""
    full_env = {**os.environ, "KAFKA_PYTHON": sys.executable, **(env or {})}
    subprocess.run([str(KAFKA_SCRIPT), command], check=True, env=full_env, timeout=timeout)


def kafka_env_for(bootstrap: str) -> dict[str, str]:
    host, port = split_hostport(bootstrap)
    return {"KAFKA_HOST": host, "KAFKA_PORT": str(port)}


def pg_env_for(url: str) -> dict[str, str]:
    parsed = make_url(url)
    return {
        "PG_HOST": parsed.host or "127.0.0.1",
        "PG_PORT": str(parsed.port or 5432),
        "PG_USER": parsed.username or "enricher",
        "PG_PASSWORD": parsed.password or "",
        "PG_DB": parsed.database or "enricher",
    }


def pg_script(command: str, url: str, timeout: float = 600) -> None:
    subprocess.run(
        [str(PG_SCRIPT), command], check=True, env={**os.environ, **pg_env_for(url)}, timeout=timeout
    )


async def pg_connect(url: str, database: str | None = None) -> asyncpg.Connection:
    """A raw asyncpg connection (for CREATE/DROP DATABASE, which cannot run in a transaction)."""
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=database or parsed.database,
        timeout=5,
    )


async def _pg_answers(url: str) -> bool:
    try:
        connection = await pg_connect(url)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


def pg_answers(url: str) -> bool:
    parsed = make_url(url)
    if not port_open(parsed.host or "127.0.0.1", parsed.port or 5432):
        return False
    return run_isolated(_pg_answers(url))


def database_url(url: str, database: str) -> str:
    """``url`` pointing at another database of the same server."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayBroker:
    """A second, private broker on free ports with its own data dir (for fault tests).

    ``stop()``/``start()`` keep the data, like ``make kafka-restart``; ``close()`` wipes it.
    """

    def __init__(self, run_dir: Path) -> None:
        port = free_port()
        controller = free_port()
        self.bootstrap = f"127.0.0.1:{port}"
        self.run_dir = run_dir
        self._env = {
            "KAFKA_PORT": str(port),
            "KAFKA_CONTROLLER_PORT": str(controller),
            "KAFKA_RUN_DIR": str(run_dir),
            "KAFKA_HOST": "127.0.0.1",
            # C1 only: a throwaway broker starts and restarts ~30% faster and needs no peak speed
            "KAFKA_JVM_OPTS": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError",
        }

    def start(self) -> None:
        kafka_script("up", self._env)

    def stop(self) -> None:
        kafka_script("down", self._env)

    def restart(self) -> None:
        kafka_script("restart", self._env)

    def close(self) -> None:
        kafka_script("clean", self._env)
