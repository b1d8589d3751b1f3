"""Where the alerts come from, in metrics of bounded cardinality: by scope and by identity.

Accounts, namespaces and identities are open-ended sets, so none of them may become a free label
of a per-event series. Two bounded views instead, both fed once per batch by ``VerdictView.observe``:

- ``enricher_verdicts_by_scope_total{source,verdict,scope}``: the scope is the AWS account of a
  CloudTrail verdict, the namespace of a Kubernetes audit or mesh verdict (``_cluster`` for
  cluster-scoped Kubernetes objects, ``_unknown`` when absent). Each source gives its own label to
  the first ``scope_limit`` distinct scopes it sees; later ones are counted under ``_other``. A
  counter's label set cannot be re-ranked without breaking ``rate()``, hence first-come admission.
- ``enricher_top_offender_alerts{identity,verdict}``: alerts per (identity, verdict) over a sliding
  window (one hour in one-minute buckets); a publisher thread rewrites the gauge every 30 s with the
  top 10 identities of each alert verdict and nothing else, so it never holds more than 30 series
  (3 alert verdicts x 10). Across several workers the dashboard sums the per-worker top lists: exact
  for an identity every worker ranks, a lower bound otherwise.
  Unknown identities are named by their raw principal (an assumed role without its session name):
  they are the shadow NHIs worth seeing.

``_other`` and ``_cluster`` cannot collide with a real namespace (DNS labels have no ``_``) or an
AWS account id (12 digits).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import Any, Final

from enricher.adapters.metrics import Metrics
from enricher.core.verdict import EXPECTED, Verdict

OTHER: Final = "_other"
CLUSTER_SCOPE: Final = "_cluster"
UNKNOWN_SCOPE: Final = "_unknown"
SCOPE_LIMIT: Final = 50  # distinct scopes per source with a label of their own
TOP: Final = 10
WINDOW_S: Final = 3600.0
BUCKET_S: Final = 60.0
PUBLISH_EVERY_S: Final = 30.0
# distinct identities remembered per verdict; past it new ones are counted under ``_other``
MAX_TRACKED: Final = 100_000

OffenderKey = tuple[str, str]  # (identity or raw principal, verdict)

_SCOPE_FIELDS: Final = attrgetter("source", "verdict", "account", "namespace")
_OFFENDER_FIELDS: Final = attrgetter("identity", "principal", "session", "verdict")


class ScopeLabels:
    """Maps (source, scope) to a bounded label value: the first ``limit`` scopes of each source."""

    def __init__(self, limit: int = SCOPE_LIMIT) -> None:
        self._limit = limit
        self._admitted: dict[str, set[str]] = {}

    def label(self, source: str, scope: str | None) -> str:
        """The label for ``scope``: itself while the source has room or already admitted it, else ``_other``."""
        if scope is None:
            return CLUSTER_SCOPE if source == "k8s_audit" else UNKNOWN_SCOPE
        admitted = self._admitted.setdefault(source, set())
        if scope in admitted:
            return scope
        if len(admitted) < self._limit:
            admitted.add(scope)
            return scope
        return OTHER


class TopOffenders:
    """Alert counts per (identity, verdict) over a sliding window; publishes only the top ``top``.

    ``add`` is called once per batch with that batch's pre-aggregated counts (never per event);
    ``publish`` (every ``PUBLISH_EVERY_S`` from the thread ``start`` runs) expires old buckets and
    rewrites the gauge. Thread-safe: the hot loop adds while the publisher reads.
    """

    def __init__(
        self,
        gauge: Any,
        *,
        top: int = TOP,
        window_s: float = WINDOW_S,
        bucket_s: float = BUCKET_S,
        max_tracked: int = MAX_TRACKED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gauge = gauge
        self._top = top
        self._bucket_s = bucket_s
        self._buckets_kept = max(int(window_s // bucket_s), 1)
        self._max_tracked = max_tracked
        self._clock = clock
        self._lock = threading.Lock()
        # plain dicts: Counter's ``+=`` on a new key goes through a Python-level __missing__
        self._buckets: deque[tuple[int, dict[OffenderKey, int]]] = deque()
        self._totals: dict[str, dict[str, int]] = {}
        self._published: set[OffenderKey] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, counts: Mapping[OffenderKey, int]) -> None:
        """Add one batch's alert counts to the current bucket."""
        if not counts:
            return
        with self._lock:
            index = self._expire()
            if not self._buckets or self._buckets[-1][0] != index:
                self._buckets.append((index, {}))
            bucket = self._buckets[-1][1]
            for (identity, verdict), n in counts.items():
                totals = self._totals.get(verdict)
                if totals is None:
                    totals = self._totals[verdict] = {}
                known = totals.get(identity)
                if known is None:
                    if len(totals) >= self._max_tracked:
                        identity = OTHER
                    known = totals.get(identity, 0)
                totals[identity] = known + n
                key = (identity, verdict)
                bucket[key] = bucket.get(key, 0) + n

    def top(self) -> dict[str, list[tuple[str, int]]]:
        """The top identities of each verdict over the window, highest count first."""
        with self._lock:
            self._expire()
            return {
                verdict: heapq.nlargest(self._top, totals.items(), key=lambda item: (item[1], item[0]))
                for verdict, totals in self._totals.items()
                if totals
            }

    def publish(self) -> None:
        """Rewrite the gauge with the current top entries only; the series it set before and that left
        the top are removed (this object is the gauge's only writer)."""
        ranking = self.top()
        wanted = {(identity, verdict): n for verdict, entries in ranking.items() for identity, n in entries}
        for key in self._published - wanted.keys():
            self._gauge.remove(*key)
        for (identity, verdict), n in wanted.items():
            self._gauge.labels(identity, verdict).set(n)
        self._published = set(wanted)

    def start(self, every_s: float = PUBLISH_EVERY_S) -> None:
        """Publish every ``every_s`` seconds from a daemon thread (idle workers' windows slide too)."""
        if self._thread is not None:
            return

        def loop() -> None:
            # while the gauge is empty, look every second, so the first offenders show at once
            while not self._stop.wait(every_s if self._published else min(every_s, 1.0)):
                self.publish()

        self._thread = threading.Thread(target=loop, name="top-offenders", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the publisher thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _expire(self) -> int:
        """Drop buckets that left the window (caller holds the lock); returns the current bucket index."""
        index = int(self._clock() // self._bucket_s)
        oldest_kept = index - self._buckets_kept + 1
        while self._buckets and self._buckets[0][0] < oldest_kept:
            _, expired = self._buckets.popleft()
            for (identity, verdict), n in expired.items():
                totals = self._totals[verdict]
                left = totals[identity] - n
                if left > 0:
                    totals[identity] = left
                else:
                    del totals[identity]
        return index


def _without_session(principal: str, session: str | None) -> str:
    """An unknown role is ranked as one actor, not once per session: CloudTrail names an assumed
    role's caller ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``; the session is dropped."""
    if (
        session
        and principal.endswith(session)
        and principal[-len(session) - 1] == "/"
        and ":assumed-role/" in principal
    ):
        return principal[: -len(session) - 1]
    return principal


class VerdictView:
    """The worker's per-batch call: drift by scope (capped) and the top-offender window."""

    def __init__(
        self, metrics: Metrics, *, scope_limit: int = SCOPE_LIMIT, offenders: TopOffenders | None = None
    ) -> None:
        self._by_scope = metrics.verdicts_by_scope
        self._scopes = ScopeLabels(scope_limit)
        self._children: dict[tuple[str, str, str], Any] = {}
        self.offenders = offenders if offenders is not None else TopOffenders(metrics.top_offender_alerts)

    def start(self) -> None:
        """Start republishing the top offenders every 30 s."""
        self.offenders.start()

    def observe(self, verdicts: Sequence[Verdict]) -> None:
        """Count one batch's verdicts: two C-level Counter passes, then one step per distinct key
        (about 1 us/event with 3,000 identities: two to three times the worker's per-verdict Counter)."""
        if not verdicts:
            return
        children = self._children
        for (source, verdict, account, namespace), n in Counter(map(_SCOPE_FIELDS, verdicts)).items():
            key = (
                source,
                verdict,
                self._scopes.label(source, account if source == "cloudtrail" else namespace),
            )
            child = children.get(key)
            if child is None:
                child = children[key] = self._by_scope.labels(*key)
            child.inc(n)
        alerts = Counter(map(_OFFENDER_FIELDS, [v for v in verdicts if v.verdict != EXPECTED]))
        offenders: dict[OffenderKey, int] = {}
        for (identity, principal, session, verdict), n in alerts.items():
            actor = (identity or _without_session(principal, session), verdict)
            offenders[actor] = offenders.get(actor, 0) + n
        self.offenders.add(offenders)
