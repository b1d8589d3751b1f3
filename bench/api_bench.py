"""The responder API under load: p50/p99 of ``GET /events/{id}`` and a filtered ``GET /verdicts``
page at 50 concurrent clients, against a store holding the verdict bench's 1,000,000 verdicts.

A real ``enricher api`` process (uvicorn) on 127.0.0.1; the load generator is httpx in this process,
bounded in time, loopback only. Client and server share the 2 cores, so the figures include the
client's own cost.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx

from enricher.adapters.store.engine import create_engine_for
from enricher.adapters.store.token_repo import TokenRepository

CLIENTS = 50
SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _token(url: str) -> str:
    engine = create_engine_for(url)
    try:
        return await TokenRepository(engine).create(f"bench-{os.getpid()}", ["read"])
    finally:
        await engine.dispose()


def _quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"requests": len(ordered), "p50_ms": pick(0.50), "p99_ms": pick(0.99)}


async def _load(base: str, token: str, paths: list[str]) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + SECONDS
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=30) as client:  # fmt: skip

        async def one_client(seed: int) -> None:
            nonlocal errors
            rnd = random.Random(seed)
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(rnd.choice(paths))
                latencies.append(time.perf_counter() - started)
                errors += response.status_code >= 400

        await asyncio.gather(*(one_client(i) for i in range(CLIENTS)))
    return {**_quantiles(latencies), "errors": errors, "requests_per_s": len(latencies) / SECONDS}


def bench_api(url: str, event_ids: list[str]) -> dict[str, Any]:
    """Start the API on ``url``'s store and load two routes in turn."""
    token = asyncio.run(_token(url))
    port = _free_port()
    env = {**os.environ, "ENRICHER_DATABASE_URL": url, "ENRICHER_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "enricher.cli", "api", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        events = [f"/events/{event_id}" for event_id in event_ids]
        pages = [f"/verdicts?verdict={v}&limit=50" for v in ("drift", "overprivileged", "unauthorized_path")]
        return {
            "clients": CLIENTS,
            "seconds_per_route": SECONDS,
            "get_event": {**asyncio.run(_load(base, token, events)), "target_p99_ms": 20.0},
            "verdicts_page": {**asyncio.run(_load(base, token, pages)), "target_p99_ms": 100.0},
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
