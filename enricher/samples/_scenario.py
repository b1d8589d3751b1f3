"""What the sample builders share: the cast (accounts, cluster), per-round ids and times, the registry.

Each builder turns a ``Round`` into one raw record (a JSON object or a text line). Round 0 uses
fixed values derived from names, so the same records come out every time; later rounds draw fresh
ids, access keys and ports, and move every time by up to 30 minutes (less than any gap to a window
edge in the scenario, so each record keeps its verdict).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

PROD: Final = "111122223333"  # workloads
TOOLS: Final = "444455556666"  # CI and tooling
REGION: Final = "us-east-1"
DAY: Final = "2026-03-02"
TRUST_DOMAIN: Final = "cluster.local"

Record = dict[str, Any]


class Round:
    """Ids, keys, ports and times for one pass over the scenario (see the module docstring)."""

    def __init__(self, rnd: random.Random | None = None) -> None:
        self._rnd = rnd
        self._shift = timedelta(seconds=rnd.uniform(0, 1800)) if rnd is not None else timedelta(0)
        self._memo: dict[str, str] = {}

    def at(self, clock: str, digits: int = 0, after: float = 0.0) -> str:
        """``HH:MM:SS[.ffffff]`` (plus ``after`` seconds) on the sample day, moved by this round's shift:
        RFC 3339 UTC with ``Z`` and ``digits`` fractional digits (0: whole seconds, as CloudTrail
        writes them; 9: nanoseconds, as the CRI log format does)."""
        when = datetime.fromisoformat(f"{DAY}T{clock}+00:00") + self._shift + timedelta(seconds=after)
        text = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000"
        return (text[: 20 + digits] if digits else text[:19]) + "Z"

    def uid(self, name: str) -> str:
        """A random-looking UUID (v4), the same for one name within a round."""
        return self._draw(f"uid:{name}", lambda rnd: str(uuid.UUID(int=rnd.getrandbits(128), version=4)))

    def key(self, name: str, prefix: str = "ASIA") -> str:
        """An AWS access key id (``ASIA`` temporary, ``AKIA`` long-lived), the same for one name."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        return self._draw(
            f"key:{prefix}:{name}", lambda rnd: prefix + "".join(rnd.choice(alphabet) for _ in range(16))
        )

    def port(self, name: str) -> int:
        """An ephemeral source port, the same for one name within a round."""
        return int(self._draw(f"port:{name}", lambda rnd: str(rnd.randint(32768, 60999))))

    def _draw(self, slot: str, draw: Callable[[random.Random], str]) -> str:
        found = self._memo.get(slot)
        if found is None:
            rnd = self._rnd
            if rnd is None:  # round 0: seeded by the slot name, so fixed
                rnd = random.Random(hashlib.sha256(slot.encode()).digest())
            found = self._memo[slot] = draw(rnd)
        return found


Builder = Callable[[Round], bytes]


@dataclass(frozen=True, slots=True)
class Sample:
    """One raw record of the scenario: its name, its source (which raw topic) and its builder."""

    name: str
    source: str
    build: Builder


REGISTRY: dict[str, Sample] = {}


def sample(name: str, source: str) -> Callable[[Callable[[Round], Any]], Callable[[Round], Any]]:
    """Register a builder under ``name``: a dict or list result becomes one JSON line, text is encoded."""

    def register(fn: Callable[[Round], Any]) -> Callable[[Round], Any]:
        def build(r: Round) -> bytes:
            value = fn(r)
            if isinstance(value, bytes):
                return value
            if isinstance(value, str):
                return value.encode()
            return orjson.dumps(value)

        if name in REGISTRY:
            raise ValueError(f"sample {name} registered twice")
        REGISTRY[name] = Sample(name, source, build)
        return fn

    return register
