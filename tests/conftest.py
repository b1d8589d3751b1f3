"""Shared test configuration: where the repository and the real-log corpus are.

The corpus is the folder ``shared/corpus`` beside the repository folder; tests read it in place
(it is never copied into the repository). ``ENRICHER_CORPUS_DIR`` points elsewhere if needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("ENRICHER_CORPUS_DIR", REPO / ".." / "shared" / "corpus")).resolve()


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The corpus folder (``cloudtrail/``, ``k8s_audit/``, ``mesh/``); fails loudly when absent."""
    if not CORPUS.is_dir():
        pytest.fail(f"corpus not found at {CORPUS} (expected shared/corpus beside the repository)")
    return CORPUS
