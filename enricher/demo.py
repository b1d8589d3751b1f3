"""``enricher demo``: the whole pipeline on sample data, with nothing to set up but the local broker.

1. check the broker answers (and say how to start it when it does not);
2. create the topics (idempotent), and a fresh SQLite store in ``.demo/`` holding the sample
   baseline (``enricher/samples/baseline.yaml``);
3. start one ``enricher worker`` process in a consumer group of its own whose offsets are first
   set to the end of the raw topics, so it judges only this run's records;
4. produce the sample scenario and N more generated records (fresh ids each run) to the raw topics;
5. read the output topics from the offsets they had before, keeping only this run's records
   (verdict ids the core computes for the same input, dead letters at the positions produced),
   printing a progress line a second, until every expected output arrived;
6. print what came out, and stop the worker (or, with ``--keep``, leave it running).

The same records are written to ``.demo/samples/`` so ``enricher replay`` can show that the core
gives the same verdicts without Kafka.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from enricher.config import load_settings
from enricher.core.baseline import compile_baseline
from enricher.core.baseline_file import load_baseline_file
from enricher.core.model import BaselineDocument
from enricher.core.pipeline import EnrichState, RawRecord, enrich
from enricher.demo_report import Expected, Observed, mismatch, render_summary, role_of_topics
from enricher.errors import EnricherError
from enricher.samples.events import SAMPLES, sample_stream

SAMPLE_BASELINE = Path(__file__).resolve().parent / "samples" / "baseline.yaml"
READY_MESSAGE = "worker ready"  # logged by ``enricher worker`` once its baseline is loaded
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class DemoError(EnricherError):
    """Something the person running the demo has to act on; the message says what."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``enricher demo`` was asked to do."""

    events: int = 2000  # generated records on top of one pass of the scenario
    keep: bool = False  # leave the worker running afterwards
    workdir: Path = Path(".demo")
    metrics_port: int = 0  # 0: a free port
    timeout_s: float = 60.0  # for all outputs to arrive once the worker is ready
    seed: int | None = None  # of the generated ids; default: a new one each run


@dataclass
class _Produced:
    """The raw-topic positions the broker acknowledged for this run's records, and any failures."""

    positions: set[tuple[str, int, int]] = field(default_factory=set)
    failed: int = 0
    first_error: str = ""

    def callback(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failed += 1
            self.first_error = self.first_error or str(err)
            return
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        if topic is not None and partition is not None and offset is not None:
            self.positions.add((topic, partition, offset))


def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo; 0 when every expected output arrived, 1 with a message saying why not.

    The worker is stopped on every way out (``--keep`` leaves it only after a successful run),
    SIGTERM to the demo included.
    """
    demo = _Demo(options, out)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        demo.run()
    except DemoError as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    except KafkaException as exc:
        print(f"\ndemo failed: Kafka error: {exc.args[0].str() if exc.args else exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr)
        return 130
    finally:
        demo.finish()
        signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


class _Demo:
    """One demo run (see the module docstring for the steps)."""

    def __init__(self, options: DemoOptions, out: TextIO) -> None:
        self.options = options
        self.out = out
        self.workdir = options.workdir.resolve()
        self.run_id = uuid.uuid4().hex[:8]
        self.seed = options.seed if options.seed is not None else int.from_bytes(os.urandom(4), "big")
        self.metrics_port = options.metrics_port or _free_port()
        self.settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{self.workdir / 'enricher.db'}",
            consumer_group=f"enricher-demo-{self.run_id}",
            metrics_port=self.metrics_port,
        )
        self.worker: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "worker.log"
        self.pid_path = self.workdir / "worker.pid"
        self.succeeded = False

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    # ----------------------------------------------------------------------------------- steps

    def run(self) -> None:
        started = time.monotonic()
        settings = self.settings
        self.say(
            f"enricher demo: sample data through Kafka at {settings.kafka_brokers}, "
            f"store in {self._show(self.workdir)}/"
        )
        self._check_broker()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._stop_kept_worker()
        doc = load_baseline_file(SAMPLE_BASELINE)
        version = self._prepare_store(doc)
        self.say(f"  store: imported the sample baseline ({_baseline_size(doc)}), baseline_version {version}")
        created = self._create_topics()
        self.say(f"  topics: {created}")
        self._skip_old_input()
        self._start_worker()
        # while the worker starts: what it must produce, and where the outputs end now
        records = list(sample_stream(len(SAMPLES) + self.options.events, seed=self.seed))
        expected = _expect(records, doc)
        self._write_samples(records)
        outputs = self._end_offsets(settings.output_topics)
        self._wait_ready()
        self.say(
            f"  worker: pid {self._worker_pid()} is ready, "
            f"metrics on http://127.0.0.1:{self.metrics_port}/metrics"
        )
        self.say(
            f"  producing {len(records):,} records: the scenario once, then {self.options.events:,} generated"
        )
        produced = self._produce(records)
        observed = self._collect(outputs, produced, expected, len(records))
        differs = mismatch(expected, observed)
        if differs is not None:
            raise DemoError(f"the worker's verdicts differ from the core's on the same records: {differs}")
        self.say(f"\nDone in {time.monotonic() - started:.1f} s.\n")
        self.say(render_summary(expected, observed, settings, self._paths(), _prog()))
        self.succeeded = True

    def _check_broker(self) -> None:
        brokers = self.settings.kafka_brokers
        hint = (
            "Start the local one with `make kafka-up` (or point ENRICHER_KAFKA_BROKERS at yours), "
            "then run the demo again."
        )
        if not any(_accepts_tcp(address) for address in brokers.split(",")):
            raise DemoError(
                f"no Kafka broker answers on {brokers} (connection refused or timed out).\n{hint}"
            )
        admin = AdminClient(
            {**self.settings.kafka_client_config(), "log_level": 0, "socket.timeout.ms": 3000}
        )
        try:
            admin.list_topics(timeout=10)
        except KafkaException as exc:
            raise DemoError(
                f"the Kafka broker on {brokers} does not answer: {exc.args[0].str()}.\n{hint}"
            ) from exc

    def _stop_kept_worker(self) -> None:
        """A worker left running by an earlier ``--keep`` run uses the same store: stop it first."""
        pid = _read_pid(self.pid_path)
        if pid is None or not _is_demo_worker(pid):
            self.pid_path.unlink(missing_ok=True)
            return
        self.say(f"  stopping the worker an earlier `enricher demo --keep` left running (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _is_demo_worker(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_demo_worker(pid):
            raise DemoError(f"the earlier demo worker (pid {pid}) did not stop; stop it with `kill {pid}`")
        self.pid_path.unlink(missing_ok=True)

    def _prepare_store(self, doc: BaselineDocument) -> int:
        """A fresh store at the newest schema holding exactly the sample baseline."""
        from enricher.adapters.store.migrate import upgrade_to_head

        for suffix in ("", "-wal", "-shm", "-journal"):
            (self.workdir / f"enricher.db{suffix}").unlink(missing_ok=True)
        upgrade_to_head(self.settings.database_url)
        return asyncio.run(_import_baseline(self.settings.database_url, doc))

    def _create_topics(self) -> str:
        from enricher.adapters.kafka.topics import create_topics, plan_topics

        plans = plan_topics(self.settings)
        outcome = create_topics(self.settings, plans)
        self._wait_for_leaders([plan.name for plan in plans])
        made = sorted(name for name, how in outcome.items() if how == "created")
        if not made:
            return f"all {len(outcome)} exist"
        return f"created {len(made)} ({', '.join(made)}), {len(outcome) - len(made)} existed"

    def _wait_for_leaders(self, topics: list[str], timeout: float = 30.0) -> None:
        """New topics answer offset requests only once every partition has a leader."""
        admin = AdminClient({**self.settings.kafka_client_config(), "log_level": 0})
        deadline = time.monotonic() + timeout
        while True:
            found = admin.list_topics(timeout=10).topics
            waiting = [
                t
                for t in topics
                if t not in found
                or found[t].error is not None
                or not found[t].partitions
                or any(p.leader < 0 for p in found[t].partitions.values())
            ]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise DemoError(
                    f"topics without a partition leader after {timeout:.0f} s: {', '.join(waiting)}"
                )
            time.sleep(0.1)

    def _write_samples(self, records: list[tuple[str, bytes]]) -> None:
        """The produced records, one a line per source, for ``enricher replay``."""
        folder = self.workdir / "samples"
        folder.mkdir(exist_ok=True)
        by_source: dict[str, list[bytes]] = {}
        for source, data in records:
            by_source.setdefault(source, []).append(data)
        for source, lines in by_source.items():
            (folder / f"{source}.log").write_bytes(b"\n".join(lines) + b"\n")

    def _end_offsets(self, topics: tuple[str, ...]) -> list[TopicPartition]:
        """Where each partition of ``topics`` ends now."""
        consumer = Consumer(
            {**self.settings.kafka_client_config(), "group.id": f"enricher-demo-probe-{self.run_id}"}
        )
        try:
            return [
                TopicPartition(topic, p, _high_watermark(consumer, topic, p))
                for topic in topics
                for p in _partitions(consumer, topic)
            ]
        finally:
            consumer.close()

    def _skip_old_input(self) -> None:
        """Commit this run's consumer group at the end of the raw topics: older records are not ours."""
        raw = tuple(self.settings.raw_topics.values())
        ends = self._end_offsets(raw)
        consumer = Consumer({**self.settings.kafka_client_config(), "group.id": self.settings.consumer_group})
        try:
            consumer.commit(offsets=ends, asynchronous=False)
        finally:
            consumer.close()

    def _start_worker(self) -> None:
        env = {
            **os.environ,
            "ENRICHER_DATABASE_URL": self.settings.database_url,
            "ENRICHER_CONSUMER_GROUP": self.settings.consumer_group,
        }
        command = [sys.executable, "-m", "enricher.cli", "worker", "--metrics-port", str(self.metrics_port)]
        with open(self.log_path, "wb") as log:
            # a session of its own: a Ctrl-C at the terminal reaches the demo, which stops it cleanly
            self.worker = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.pid_path.write_text(f"{self.worker.pid}\n")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self._check_worker_alive()
            if _logged(self.log_path, READY_MESSAGE):
                return
            time.sleep(0.1)
        raise DemoError(f"the worker was not ready after {READY_TIMEOUT_S:.0f} s.\n{self._log_tail()}")

    def _produce(self, records: list[tuple[str, bytes]]) -> _Produced:
        """Every record to its raw topic; one key per scenario pass keeps a pass in order."""
        from enricher.adapters.kafka.clients import producer_config

        topics = self.settings.raw_topics
        produced = _Produced()
        producer = Producer(producer_config(self.settings))
        per_pass = len(SAMPLES)
        for index, (source, data) in enumerate(records):
            key = f"demo-{self.run_id}-{index // per_pass}".encode()
            while True:
                try:
                    producer.produce(topics[source], data, key, on_delivery=produced.callback)
                    break
                except BufferError:
                    producer.poll(0.05)
        left = producer.flush(30)
        if left or produced.failed:
            raise DemoError(
                f"{left + produced.failed} record(s) could not be produced: "
                f"{produced.first_error or 'timed out'}"
            )
        return produced

    def _collect(
        self, start: list[TopicPartition], produced: _Produced, expected: Expected, sent: int
    ) -> Observed:
        """Read the outputs from ``start`` until every expected one arrived (progress once a second)."""
        settings = self.settings
        observed = Observed()
        consumer = Consumer(
            {
                **settings.kafka_client_config(),
                "group.id": f"enricher-demo-reader-{self.run_id}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "log_level": 3,
            }
        )
        consumer.assign(start)
        deadline = time.monotonic() + self.options.timeout_s
        next_line = time.monotonic() + 1.0
        began = time.monotonic()
        ours = expected.by_id
        roles = role_of_topics(settings)
        try:
            with open(self.workdir / "verdicts.jsonl", "wb") as saved:
                while not observed.complete(expected):
                    now = time.monotonic()
                    if now >= next_line:
                        self.say(observed.progress(now - began, sent, expected))
                        next_line += 1.0
                    if now > deadline:
                        raise DemoError(
                            f"after {self.options.timeout_s:.0f} s the outputs are incomplete: "
                            f"{observed.progress(now - began, sent, expected).strip()}.\n{self._log_tail()}"
                        )
                    self._check_worker_alive()
                    for msg in consumer.consume(1000, 0.2):
                        if msg.error() is None:
                            role = roles[msg.topic() or ""]
                            observed.add(role, msg.value() or b"", ours, produced.positions, saved)
        finally:
            consumer.close()
        self.say(observed.progress(time.monotonic() - began, sent, expected))
        return observed

    # ------------------------------------------------------------------------------ worker care

    def _worker_pid(self) -> int:
        assert self.worker is not None
        return self.worker.pid

    def _check_worker_alive(self) -> None:
        if self.worker is not None and self.worker.poll() is not None:
            code = self.worker.returncode
            self.worker = None
            self.pid_path.unlink(missing_ok=True)
            raise DemoError(f"the worker exited with status {code}.\n{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no worker log at {self.log_path})"
        shown = "\n".join(f"    {_readable(line)}" for line in tail) or "    (empty)"
        return f"Last lines of the worker log ({self._show(self.log_path)}):\n{shown}"

    def finish(self) -> None:
        """Stop the worker (SIGTERM, then SIGKILL), unless ``--keep`` and the run succeeded."""
        worker = self.worker
        if worker is None or worker.poll() is not None:
            return
        if self.options.keep and self.succeeded:
            pid = worker.pid
            self.say(
                f"The worker keeps running (--keep): pid {pid}, "
                f"metrics http://127.0.0.1:{self.metrics_port}/metrics,\n"
                f"log {self._show(self.log_path)}. It judges whatever arrives on the raw topics "
                f"(consumer group {self.settings.consumer_group}). Stop it with:\n"
                f"    kill {pid}        (or run `enricher demo` again, which stops it first)"
            )
            return
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(
                f"the worker (pid {worker.pid}) did not stop in {STOP_TIMEOUT_S:.0f} s: killing it",
                file=sys.stderr,
            )
            worker.kill()
            worker.wait()
        self.pid_path.unlink(missing_ok=True)
        if self.succeeded:
            self.say(f"Stopped the worker (pid {worker.pid}). `enricher demo --keep` leaves it running.")

    def _paths(self) -> dict[str, str]:
        return {
            "workdir": self._show(self.workdir),
            "samples": self._show(self.workdir / "samples"),
            "verdicts": self._show(self.workdir / "verdicts.jsonl"),
            "log": self._show(self.log_path),
            "baseline": self._show(SAMPLE_BASELINE),
        }

    @staticmethod
    def _show(path: Path) -> str:
        """``path`` relative to the working directory when it is below it (shorter to read and paste)."""
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)


# ----------------------------------------------------------------------------------- helpers


async def _import_baseline(url: str, doc: BaselineDocument) -> int:
    from enricher.adapters.store.baseline_repo import BaselineRepository
    from enricher.adapters.store.engine import create_engine_for

    engine = create_engine_for(url)
    try:
        result = await BaselineRepository(engine).import_document(
            doc, author="enricher demo", summary="sample baseline (enricher/samples/baseline.yaml)"
        )
    finally:
        await engine.dispose()
    return result.version


def _expect(records: list[tuple[str, bytes]], doc: BaselineDocument) -> Expected:
    """What the worker must produce for ``records``: the core run on them here, in the same order."""
    baseline = compile_baseline(doc, version=0)
    state = EnrichState()
    expected = Expected()
    batch = [RawRecord(data, source) for source, data in records]
    for start in range(0, len(batch), 2000):
        expected.add(enrich(batch[start : start + 2000], baseline, state))
    return expected


def _baseline_size(doc: BaselineDocument) -> str:
    entitlements = sum(len(identity.entitlements) for identity in doc.identities)
    return f"{len(doc.identities)} identities, {entitlements} entitlements"


def _partitions(consumer: Consumer, topic: str) -> Iterator[int]:
    found = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise DemoError(f"topic {topic} does not exist (was `enricher topics create` refused?)")
    yield from sorted(found.partitions)


# what a partition answers while its leader is still being elected or its log loaded
_NOT_READY = frozenset(
    {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART}
)


def _high_watermark(consumer: Consumer, topic: str, partition: int, timeout: float = 30.0) -> int:
    """The partition's end offset, waiting out a freshly created topic's leader election."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return int(consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1])
        except KafkaException as exc:
            if exc.args[0].code() not in _NOT_READY or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _accepts_tcp(address: str, timeout: float = 2.0) -> bool:
    host, _, port = address.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prog() -> str:
    """How the user ran ``enricher``: by name when that is on PATH, else by the path they used."""
    argv0 = sys.argv[0]
    if Path(argv0).name != "enricher":
        return "enricher"
    on_path = shutil.which("enricher")
    if on_path is not None and Path(on_path).resolve() == Path(argv0).resolve():
        return "enricher"
    return _Demo._show(Path(argv0).resolve())


def _readable(line: str) -> str:
    """A JSON log line as ``time LEVEL logger: message`` (plus the exception), other lines as they are."""
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    if not isinstance(entry, dict) or "message" not in entry:
        return line
    text = f"{entry.get('time', '')} {entry.get('level', '')} {entry.get('logger', '')}: {entry['message']}"
    trace = entry.get("exc_info")
    if isinstance(trace, str) and trace:
        text += "\n      " + "\n      ".join(trace.splitlines()[-6:])
    return text


def _logged(path: Path, message: str) -> bool:
    """The JSON-lines log at ``path`` has a record with this ``message``."""
    for line in path.read_bytes().splitlines():
        if message.encode() in line:
            try:
                if orjson.loads(line).get("message") == message:
                    return True
            except (orjson.JSONDecodeError, AttributeError):
                continue
    return False


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_demo_worker(pid: int) -> bool:
    """True when ``pid`` is a live ``enricher worker`` (not a recycled PID of another program)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1]
    except (OSError, IndexError):
        return False
    return state != "Z" and b"enricher.cli" in cmdline and b"worker" in cmdline
