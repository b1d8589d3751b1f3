"""``make bench``: every SPEC §11 target measured in one run, printed as a table, saved as JSON.

Each line shows the figure, the floor or target it is compared with, and the ratio. Absolute
numbers on a shared 2-core machine are noise; the ratios, measured side by side, are the point.
Sections: ``core`` (pure core vs orjson floor), ``store`` (1M-entitlement baseline from PostgreSQL,
100k YAML import), ``pipeline`` (worker vs bare Kafka loop, latency at 5,000/s, propagation),
``verdicts`` (verdict store writes and queries). ``python -m bench.run core pipeline`` runs some.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

PG_URL = os.environ.get(
    "ENRICHER_BENCH_DATABASE_URL", "postgresql+asyncpg://enricher:enricher@127.0.0.1:15432/enricher"
)
RESULTS = Path(".bench/results.json")


def _core() -> dict[str, Any]:
    from bench import core_bench

    return core_bench.main()


def _store() -> dict[str, Any]:
    module = importlib.import_module("bench.store_bench")
    return dict(module.bench_baseline_store(PG_URL))


def _pipeline() -> dict[str, Any]:
    from bench import pipeline_bench

    return pipeline_bench.main()


def _verdicts() -> dict[str, Any]:
    module = importlib.import_module("bench.verdict_store_bench")
    return dict(module.bench_verdict_store(PG_URL))


SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "core": _core,
    "store": _store,
    "pipeline": _pipeline,
    "verdicts": _verdicts,
}


def _rows(results: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _rows(value, name + ".")
        elif isinstance(value, float):
            rows.append((name, f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"))
        else:
            rows.append((name, str(value)))
    return rows


def main(argv: list[str]) -> int:
    """Run the named sections (all by default); exit 1 if any failed to run."""
    chosen = argv or list(SECTIONS)
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    failed = False
    for name in chosen:
        started = time.perf_counter()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = SECTIONS[name]()
        except Exception as exc:
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed = True
        results[name]["seconds"] = time.perf_counter() - started
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    width = max(len(n) for n, _ in _rows(results))
    for name, value in _rows(results):
        print(f"{name:<{width}}  {value}")
    print(f"\nwritten to {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
