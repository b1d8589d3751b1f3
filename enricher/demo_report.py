"""What ``enricher demo`` expects, what it saw on the output topics, and the summary it prints.

``Expected`` is the core run locally on the records the demo produces (the workers run the same
core, so the worker must give the same verdicts); ``Observed`` counts what arrived on the output
topics, keeping only this run's records; ``render_summary`` is the text a person reads at the end.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final

import orjson

from enricher.config import Settings
from enricher.core.pipeline import BatchResult
from enricher.core.verdict import EXPECTED, REASONS_BY_VERDICT, VERDICTS

# Which examples to show first for each kind (at most two, with different reasons or sources).
EXAMPLE_REASONS: Final = {
    "expected": ("matched_entitlement", "identity_link"),
    "overprivileged": ("allowed_beyond_baseline",),
    "unauthorized_path": ("decommissioned_identity", "unknown_identity", "expired_entitlement"),
    "drift": ("access_model_change", "approved_but_denied"),
}
WIDTH: Final = 100


@dataclass
class Expected:
    """What the core gives for this run's records."""

    by_id: dict[str, tuple[str, str]] = field(default_factory=dict)  # verdict id -> (verdict, reason)
    verdicts: Counter[tuple[str, str]] = field(default_factory=Counter)
    alerts: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    out_of_scope: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0

    def add(self, result: BatchResult) -> None:
        """Count one enriched batch."""
        for v in result.verdicts:
            self.by_id[v.verdict_id] = (v.verdict, v.reason)
            self.verdicts[(v.verdict, v.reason)] += 1
            self.alerts += v.verdict != EXPECTED
        self.dead_letters.update(d.error for d in result.dead_letters)
        self.out_of_scope.update(result.out_of_scope)
        self.skipped.update(result.skipped)
        self.duplicates += result.duplicates


@dataclass
class Observed:
    """This run's records as read back from the output topics."""

    verdicts: list[dict[str, Any]] = field(default_factory=list)
    alerts: int = 0
    findings: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    others: int = 0  # records of other runs or other producers on the same topics
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def add(
        self,
        role: str,
        value: bytes,
        ours: dict[str, tuple[str, str]],
        produced: set[tuple[str, int, int]],
        saved: BinaryIO | None = None,
    ) -> None:
        """Count one output record. ``role`` is ``verdicts``, ``alerts``, ``ocsf`` or ``deadletter``;
        ``ours`` the verdict ids this run expects; ``produced`` the raw positions this run wrote."""
        try:
            record = orjson.loads(value)
        except orjson.JSONDecodeError:
            self.others += 1
            return
        if role == "deadletter":
            position = (record.get("topic"), record.get("partition"), record.get("offset"))
            if position not in produced:
                self.others += 1
            elif ("deadletter", str(position)) not in self._seen:  # a redelivery counts once
                self._seen.add(("deadletter", str(position)))
                self.dead_letters[record.get("error") or "?"] += 1
            return
        uid = record.get("verdict_id") if role != "ocsf" else (record.get("metadata") or {}).get("uid")
        if not isinstance(uid, str):
            self.others += 1
            return
        if uid not in ours or (role, uid) in self._seen:  # redelivered duplicates count once
            self.others += uid not in ours
            return
        self._seen.add((role, uid))
        if role == "verdicts":
            self.verdicts.append(record)
            if saved is not None:
                saved.write(value + b"\n")
        elif role == "alerts":
            self.alerts += 1
        else:
            self.findings += 1

    def complete(self, expected: Expected) -> bool:
        """Every expected verdict, alert, OCSF finding and dead letter arrived."""
        return (
            len(self.verdicts) == len(expected.by_id)
            and self.alerts == self.findings == expected.alerts
            and self.dead_letters.total() == expected.dead_letters.total()
        )

    def kinds(self) -> Counter[tuple[str, str]]:
        """Verdicts by (verdict, reason)."""
        return Counter((v["verdict"], v["reason"]) for v in self.verdicts)

    def progress(self, elapsed: float, sent: int, expected: Expected) -> str:
        """One progress line."""
        return (
            f"  {elapsed:5.1f} s  produced {sent:,}"
            f"  verdicts {len(self.verdicts):,}/{len(expected.by_id):,}"
            f"  alerts {self.alerts:,}/{expected.alerts:,}  OCSF {self.findings:,}"
            f"  dead letters {self.dead_letters.total():,}/{expected.dead_letters.total():,}"
        )


def role_of_topics(settings: Settings) -> dict[str, str]:
    """Output topic name -> its role in ``Observed.add``."""
    return {
        settings.topic_verdicts: "verdicts",
        settings.topic_alerts: "alerts",
        settings.topic_alerts_ocsf: "ocsf",
        settings.topic_deadletter: "deadletter",
    }


def mismatch(expected: Expected, observed: Observed) -> str | None:
    """How the worker's verdicts differ from the core's on the same records (verdict and reason of
    each event), or None."""
    wrong: list[str] = []
    for v in observed.verdicts:
        core = expected.by_id.get(v["verdict_id"], ("?", "?"))
        if (v["verdict"], v["reason"]) != core:
            wrong.append(f"{v['event_id']}: worker {v['verdict']}/{v['reason']}, core {'/'.join(core)}")
    if not wrong:
        return None
    return f"{len(wrong)} verdict(s), e.g. " + "; ".join(wrong[:3])


def render_summary(
    expected: Expected, observed: Observed, settings: Settings, paths: dict[str, str], prog: str = "enricher"
) -> str:
    """The end-of-run text: counts, examples, where the outputs are, how to look further.

    ``paths`` names the files (``workdir``, ``samples``, ``verdicts``, ``log``, ``baseline``) as the
    user should type them; ``prog`` is how to run ``enricher`` (``.venv/bin/enricher`` off PATH).
    """
    parts = [
        _counts(expected, observed),
        _examples(observed.verdicts),
        _outputs(expected, observed, settings, paths),
        _further(settings, paths, prog),
    ]
    return "\n\n".join(parts)


def _counts(expected: Expected, observed: Observed) -> str:
    kinds = observed.kinds()
    lines = [f"Verdicts by kind and reason ({len(observed.verdicts):,} in all, from this run's records):"]
    for verdict in VERDICTS:
        total = sum(n for (k, _), n in kinds.items() if k == verdict)
        lines.append(f"  {verdict:<31} {total:>7,}")
        lines += [
            f"      {reason:<27} {kinds[(verdict, reason)]:>7,}"
            for reason in REASONS_BY_VERDICT[verdict]
            if kinds[(verdict, reason)]
        ]
    lines += [
        f"  {'dead letters':<31} {observed.dead_letters.total():>7,}   {_fmt(observed.dead_letters)}",
        f"  {'not judged: out of scope':<31} {expected.out_of_scope.total():>7,}   "
        f"{_fmt(expected.out_of_scope)}",
        f"  {'not judged: dropped':<31} {expected.skipped.total():>7,}   {_fmt(expected.skipped)}",
        "Checked: for every event the worker gave the verdict and reason the core gives here",
        "(the core is also what `enricher replay` runs).",
    ]
    return "\n".join(lines)


def _fmt(counts: Counter[str]) -> str:
    return "(" + (", ".join(f"{key} {n:,}" for key, n in sorted(counts.items())) or "-") + ")"


SEVERITY_RANK: Final = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def _pick_examples(verdicts: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Up to two verdicts of ``kind`` with different reasons (or sources); among equals the one
    with ``via`` (IRSA, impersonation) and then the most severe, since they say the most."""
    mine = sorted(
        (v for v in verdicts if v["verdict"] == kind),
        key=lambda v: (not v.get("via"), -SEVERITY_RANK.get(v["severity"], 0)),
    )
    picked: list[dict[str, Any]] = []
    for reason in EXAMPLE_REASONS.get(kind, ()):
        found = next((v for v in mine if v["reason"] == reason), None)
        if found is not None and len(picked) < 2:
            picked.append(found)
    for v in mine:  # a second example from another source when one reason is all there is
        if len(picked) >= 2:
            break
        if all(v["source"] != p["source"] for p in picked):
            picked.append(v)
    return picked


def _examples(verdicts: list[dict[str, Any]]) -> str:
    lines = ["Examples (one verdict record each; every record carries the same fields):"]
    for kind in VERDICTS:
        for v in _pick_examples(verdicts, kind):
            identity = v.get("identity") or f"(none: {v.get('principal')})"
            owner = f", owner {v['owner']}" if v.get("owner") else ""
            via = f", via {', '.join(v['via'])}" if v.get("via") else ""
            lines += [
                "",
                f"  {v['verdict']} / {v['reason']}  [{v['severity']}]  {v['source']}  {v['time']}",
                f"    identity  {identity}{owner}{via}",
                f"    action    {v['action']} on {v['resource']} ({v['outcome']})",
            ]
            wrapped = textwrap.wrap(
                v["explanation"], WIDTH - 14, break_long_words=False, break_on_hyphens=False
            )
            lines.append(f"    why       {wrapped[0]}")
            lines += [f"              {rest}" for rest in wrapped[1:]]
    return "\n".join(lines)


def _outputs(expected: Expected, observed: Observed, settings: Settings, paths: dict[str, str]) -> str:
    topics = [
        (settings.topic_verdicts, len(observed.verdicts), "every verdict (JSON, key = identity)"),
        (settings.topic_alerts, observed.alerts, "the verdicts that are not `expected`"),
        (settings.topic_alerts_ocsf, observed.findings, "the same alerts as OCSF 1.5 Detection Findings"),
        (settings.topic_deadletter, observed.dead_letters.total(), "input that could not be parsed, and why"),
    ]
    width = max(len(name) for name, _, _ in topics)
    files = [
        (f"{paths['samples']}/*.log", "the records produced, one a line, a file per source"),
        (paths["verdicts"], f"this run's verdicts as read from {settings.topic_verdicts}"),
        (paths["log"], "the worker's log (JSON lines)"),
    ]
    file_width = max(len(name) for name, _ in files)
    return "\n".join(
        [f"Outputs on Kafka at {settings.kafka_brokers} (shared topics; the counts are this run's):"]
        + [f"  {name:<{width}}  {n:>7,}  {what}" for name, n, what in topics]
        + ["Files:"]
        + [f"  {name:<{file_width}}  {what}" for name, what in files]
    )


def _further(settings: Settings, paths: dict[str, str], prog: str) -> str:
    alerts_only = 'select(.verdict != "expected") | {verdict, reason, identity, action, resource}'
    return "\n".join(
        [
            "Look further:",
            f"  {prog} replay --baseline {paths['baseline']} --deadletter {paths['workdir']}/replay-dead.jsonl \\",
            f"      {paths['samples']}/*.log > {paths['workdir']}/replayed.jsonl",
            "      the same verdicts from the same files without Kafka (the summary on stderr)",
            f"  jq -c '{alerts_only}' {paths['verdicts']}",
            f"  kcat -b {settings.kafka_brokers} -t {settings.topic_alerts} -C -o -5 -e",
            "      the last alerts, if kcat is installed",
            f"  {prog} demo --keep",
            "      leaves the worker running: scrape its /metrics, produce records of your own",
        ]
    )
