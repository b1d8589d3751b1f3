"""``enricher baseline import|export|history`` against real stores (PostgreSQL and SQLite) and a real broker.

Most tests call ``enricher.cli.main`` in-process with the environment the console script would
see; one runs the installed console script itself.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer

from enricher.adapters.store.baseline_repo import BaselineRepository
from enricher.adapters.store.engine import create_engine_for
from enricher.cli import main
from enricher.core.baseline_file import load_baseline_file
from enricher.core.model import BaselineDocument
from tests.integration.conftest import TopicFactory
from tests.integration.services import free_port, unique_name

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data"
VALID = DATA / "baselines" / "valid.yaml"
INVALID = DATA / "baselines" / "invalid.yaml"
CORPUS_BASELINE = DATA / "corpus_baseline.yaml"


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_database" if request.param == "postgresql" else "sqlite_url"))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, store_url: str) -> pytest.MonkeyPatch:
    """The store under test; a broker nobody listens on unless a test sets a real one."""
    monkeypatch.setenv("ENRICHER_DATABASE_URL", store_url)
    monkeypatch.setenv("ENRICHER_KAFKA_BROKERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("ENRICHER_TOPIC_BASELINE", unique_name("unused"))
    return monkeypatch


def snapshot(url: str) -> tuple[BaselineDocument, int]:
    async def load() -> tuple[BaselineDocument, int]:
        engine = create_engine_for(url)
        try:
            return await BaselineRepository(engine).load_snapshot()
        finally:
            await engine.dispose()

    return asyncio.run(load())


def topic_records(bootstrap: str, topic: str, idle: float = 3.0) -> list[tuple[str, bytes | None]]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": unique_name("cli"), "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    out: list[tuple[str, bytes | None]] = []
    try:
        while batch := consumer.consume(num_messages=100, timeout=idle):
            out += [(m.key().decode(), m.value()) for m in batch if m.error() is None]
    finally:
        consumer.close()
    return out


def test_import_prints_version_and_counts_and_publishes_the_feed(
    env: pytest.MonkeyPatch,
    store_url: str,
    kafka_bootstrap: str,
    kafka_topic_factory: TopicFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topic = kafka_topic_factory("baseline-cli", config={"cleanup.policy": "compact"})
    env.setenv("ENRICHER_KAFKA_BROKERS", kafka_bootstrap)
    env.setenv("ENRICHER_TOPIC_BASELINE", topic)

    assert main(["baseline", "import", str(VALID), "--author", "alice"]) == 0
    first = capsys.readouterr().out
    assert main(["baseline", "import", str(CORPUS_BASELINE), "--author", "bob"]) == 0
    second = capsys.readouterr().out

    assert "baseline version 1: 3 identities upserted, 0 deleted, settings changed" in first
    assert "change feed: 3 record(s) written" in first
    corpus = load_baseline_file(CORPUS_BASELINE)
    assert f"baseline version 2: {len(corpus.identities)} identities upserted, 3 deleted" in second
    doc, version = snapshot(store_url)
    assert version == 2
    assert sorted(i.id for i in doc.identities) == sorted(i.id for i in corpus.identities)
    records = topic_records(kafka_bootstrap, topic)
    assert len(records) == 3 + len(corpus.identities) + 3
    tombstones = sorted(key for key, value in records if value is None)
    assert tombstones == ["ci-runner", "old-batch", "payments-api"]
    versions = {orjson.loads(value)["version"] for _, value in records if value is not None}
    assert versions == {1, 2}


def test_reimport_changes_nothing_and_no_publish_writes_no_feed(
    env: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    kafka_topic_factory: TopicFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topic = kafka_topic_factory("baseline-quiet", config={"cleanup.policy": "compact"})
    env.setenv("ENRICHER_KAFKA_BROKERS", kafka_bootstrap)
    env.setenv("ENRICHER_TOPIC_BASELINE", topic)

    assert main(["baseline", "import", str(VALID), "--no-publish"]) == 0
    assert main(["baseline", "import", str(VALID)]) == 0

    out = capsys.readouterr().out
    assert "baseline version 1: 3 identities upserted" in out
    assert "baseline version 1: no changes" in out
    assert "change feed" not in out
    assert topic_records(kafka_bootstrap, topic, idle=1.5) == []


def test_bad_file_exits_1_with_line_numbers_and_the_old_baseline_stays(
    env: pytest.MonkeyPatch, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["baseline", "import", str(VALID), "--no-publish"]) == 0
    before = snapshot(store_url)
    capsys.readouterr()

    code = main(["baseline", "import", str(INVALID)])

    err = capsys.readouterr().err
    assert code == 1
    assert "invalid baseline, nothing applied" in err
    assert f"{INVALID}:1: unsupported version 2" in err
    assert f"{INVALID}:4: identity 'payments-api': kind 'robot'" in err
    assert snapshot(store_url) == before


def test_export_round_trips(
    env: pytest.MonkeyPatch, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for source in (VALID, CORPUS_BASELINE):
        assert main(["baseline", "import", str(source), "--no-publish"]) == 0
    exported = tmp_path / "exported.yaml"
    capsys.readouterr()

    assert main(["baseline", "export", "-o", str(exported)]) == 0
    assert "baseline version 2" in capsys.readouterr().err
    assert main(["baseline", "export"]) == 0
    printed = capsys.readouterr().out
    assert main(["baseline", "import", str(exported), "--no-publish"]) == 0
    reimport = capsys.readouterr().out

    assert printed == exported.read_text()
    assert "baseline version 2: no changes" in reimport
    doc, version = snapshot(store_url)
    assert version == 2
    assert load_baseline_file(exported) == doc
    assert doc.identities and doc.settings == load_baseline_file(CORPUS_BASELINE).settings


def test_history(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["baseline", "history"]) == 0
    assert "no baseline changes" in capsys.readouterr().out
    assert main(["baseline", "import", str(VALID), "--no-publish", "--author", "alice"]) == 0
    assert main(["baseline", "import", str(CORPUS_BASELINE), "--no-publish", "--author", "bob"]) == 0
    capsys.readouterr()

    assert main(["baseline", "history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert main(["baseline", "history", "--identity", "payments-api"]) == 0
    payments = capsys.readouterr().out.splitlines()
    assert main(["baseline", "history", "--identity", "secrets-reader", "--limit", "5"]) == 0
    secrets = capsys.readouterr().out.splitlines()

    assert [line.split()[0] for line in lines] == ["2", "1"]
    assert "bob" in lines[0] and "import corpus_baseline.yaml" in lines[0] and "3 deleted" in lines[0]
    assert "alice" in lines[1] and "settings" in lines[1] and "+payments-api" in lines[1]
    assert [line.split()[0] for line in payments] == ["2", "1"]  # created, then deleted
    assert [line.split()[0] for line in secrets] == ["2"]


def test_unreachable_broker_warns_and_the_import_stands(
    env: pytest.MonkeyPatch, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["baseline", "import", str(VALID)])

    captured = capsys.readouterr()
    assert code == 0
    assert "baseline version 1: 3 identities upserted" in captured.out
    assert "warning: change feed" in captured.err and "not written" in captured.err
    assert snapshot(store_url)[1] == 1


def test_unreachable_store_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "ENRICHER_DATABASE_URL", f"postgresql+asyncpg://enricher:secret@127.0.0.1:{free_port()}/enricher"
    )

    assert main(["baseline", "export"]) == 2

    err = capsys.readouterr().err
    assert "unavailable" in err and "secret" not in err


def test_console_script_imports_into_a_fresh_sqlite_store(tmp_path: Path) -> None:
    """The installed ``enricher`` script with only environment settings, as a user runs it."""
    db = tmp_path / "fresh.db"  # never migrated: the command does it
    env = {
        **os.environ,
        "ENRICHER_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "ENRICHER_KAFKA_BROKERS": f"127.0.0.1:{free_port()}",
    }
    script = Path(sys.executable).with_name("enricher")

    done = subprocess.run(
        [str(script), "baseline", "import", str(CORPUS_BASELINE), "--no-publish"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    exported = subprocess.run(
        [str(script), "baseline", "export"], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    assert "baseline version 1:" in done.stdout
    assert exported.returncode == 0, exported.stderr
    corpus = load_baseline_file(CORPUS_BASELINE)
    assert sorted(i.id for i in corpus.identities) == sorted(
        line.removeprefix("- id: ") for line in exported.stdout.splitlines() if line.startswith("- id: ")
    )
