"""The HTTP API's read routes on a real store (PostgreSQL and SQLite): events, verdicts, identities.

Answers are checked against the same question answered in Python over the verdicts inserted
(``expected_*``), so a wrong filter, order, window or page boundary shows up as a difference.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from enricher.adapters.api.params import Reason, Source, VerdictKind
from enricher.adapters.store.verdict_repo import VerdictRepository
from enricher.core.verdict import REASONS_BY_VERDICT, VERDICTS, Verdict
from tests.integration.api_support import Api, api_fixture, at, empty_api_fixture, store_url_fixture, utc  # noqa: F401  (fixtures)
from tests.unit.verdict_samples import T0, all_samples, sample

pytestmark = pytest.mark.integration

SAMPLES = all_samples()
MATCHED_CT = next(v for v in SAMPLES if v.source == "cloudtrail" and v.reason == "matched_entitlement")


def newest_first(verdicts: list[Verdict]) -> list[str]:
    """verdict ids in the API's order: time descending, ties by verdict id descending."""
    return [v.verdict_id for v in sorted(verdicts, key=lambda v: (v.time, v.verdict_id), reverse=True)]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["verdict_id"] for item in items]


async def walk(api: Api, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every page of a paged route, checking that each page but the last is full."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await api.get(path, **query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == limit
    raise AssertionError("paging never ended")


# ------------------------------------------------------------------------------------ /events


async def test_event_in_context(api: Api) -> None:
    response = await api.get(f"/events/{MATCHED_CT.event_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert ids(body["verdicts"]) == [MATCHED_CT.verdict_id]
    assert body["verdicts"][0]["explanation"] == MATCHED_CT.explanation
    assert body["verdicts"][0]["time"] == "2026-03-14T09:26:53Z"
    identity = body["identity"]
    assert identity["id"] == "payments-api" and identity["owner"] == "team-payments"
    assert identity["aliases"] == sorted(identity["aliases"]) and len(identity["aliases"]) == 3
    assert body["entitlement"] == {
        "id": "receipts-rw",
        "system": "aws",
        "actions": ["s3:GetObject", "s3:PutObject"],
        "resources": ["arn:aws:s3:::receipts-prod/*"],
        "conditions": {"source_cidrs": ["10.0.0.0/8"]},
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": "2026-12-31T00:00:00Z",
        "approved_by": "alice",
        "ticket": "SEC-123",
    }
    window = timedelta(minutes=15)
    expected = [
        v
        for v in SAMPLES
        if v.identity == "payments-api"
        and abs(v.time - MATCHED_CT.time) <= window
        and v.verdict_id != MATCHED_CT.verdict_id
    ]
    assert len(expected) > 10
    assert ids(body["related"]) == newest_first(expected)
    assert body["window_minutes"] == 15
    assert body["baseline_version"] == 1


async def test_event_citing_an_entitlement_no_longer_in_the_baseline(api: Api) -> None:
    verdict = next(v for v in SAMPLES if v.source == "k8s_audit" and v.reason == "expired_entitlement")
    assert verdict.entitlement == "db-migrate-jit"
    body = (await api.get(f"/events/{verdict.event_id}")).json()
    assert body["identity"]["id"] == "payments-api"
    assert body["entitlement"] is None


async def test_event_of_an_unknown_identity_relates_by_principal(api: Api) -> None:
    shadow = next(v for v in SAMPLES if v.source == "cloudtrail" and v.reason == "unknown_identity")
    later = sample(
        "cloudtrail",
        "unknown_identity",
        event_id="shadow-later",
        principal=shadow.principal,
        time=shadow.time + timedelta(minutes=5),
    )
    other_principal = sample(
        "cloudtrail", "unknown_identity", event_id="shadow-other", principal="arn:aws:iam::1:role/x"
    )
    await api.store([later, other_principal])
    body = (await api.get(f"/events/{shadow.event_id}")).json()
    assert body["identity"] is None and body["entitlement"] is None
    assert ids(body["related"]) == [later.verdict_id]


async def test_related_events_window_is_fifteen_minutes_either_side(empty_api: Api) -> None:
    offsets = (-20, -15, -14, 0, 14.99, 15, 16)
    verdicts = {m: at(m) for m in offsets}
    other = at(1, identity="argocd", event_id="argocd-nearby")
    await empty_api.store([*verdicts.values(), other])
    body = (await empty_api.get(f"/events/{verdicts[0].event_id}")).json()
    assert body["identity"] is None  # no baseline in this store
    assert ids(body["related"]) == [verdicts[m].verdict_id for m in (15, 14.99, -14, -15)]
    narrow = (await empty_api.get(f"/events/{verdicts[0].event_id}", window_minutes=1)).json()
    assert narrow["related"] == [] and narrow["window_minutes"] == 1


async def test_event_with_verdicts_from_two_sources(empty_api: Api) -> None:
    shared = "4f1c2a8e-0000-4000-8000-000000000001"
    first = sample("k8s_audit", "matched_entitlement", event_id=shared, time=T0)
    second = sample("mesh", "matched_entitlement", event_id=shared, time=T0 + timedelta(seconds=1))
    await empty_api.store([first, second])
    body = (await empty_api.get(f"/events/{shared}")).json()
    assert ids(body["verdicts"]) == [second.verdict_id, first.verdict_id]
    assert body["related"] == []  # an event's own verdicts are not "related"


async def test_event_ids_with_slashes(api: Api) -> None:
    # periodic findings have ids like unused/IDENTITY/ENTITLEMENT/DAY
    unused = next(v for v in SAMPLES if v.source == "cloudtrail" and v.reason == "unused_entitlement")
    assert "/" in unused.event_id
    for path in (f"/events/{unused.event_id}", "/events/" + unused.event_id.replace("/", "%2F")):
        response = await api.get(path)
        assert response.status_code == 200, (path, response.text)
        assert ids(response.json()["verdicts"]) == [unused.verdict_id]


async def test_unknown_event_is_404(api: Api) -> None:
    response = await api.get("/events/no-such-event")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no verdict for event 'no-such-event'"}


@pytest.mark.parametrize("minutes", ["0", "1441", "x", "-5"])
async def test_event_window_out_of_range_is_422(api: Api, minutes: str) -> None:
    response = await api.get(f"/events/{MATCHED_CT.event_id}", window_minutes=minutes)
    assert response.status_code == 422
    assert response.json()["problems"][0].startswith("query.window_minutes:")


# ---------------------------------------------------------------------------------- /verdicts

FILTERS: list[dict[str, str]] = [
    {},
    {"verdict": "drift"},
    {"verdict": "unauthorized_path"},
    {"reason": "unapproved_system"},
    {"verdict": "expected", "reason": "identity_link"},
    {"verdict": "expected", "reason": "unapproved_system"},  # never together: empty
    {"identity": "payments-api"},
    {"identity": "argocd", "verdict": "drift"},
    {"source": "mesh"},
    {"source": "k8s_audit", "reason": "access_model_change"},
    {"since": "2026-03-14T09:26:53.05Z"},
    {"until": "2026-03-14T09:26:53.05Z"},
    {"since": "2026-03-14T09:26:53Z", "until": "2026-03-14T09:26:53.1Z", "source": "mesh"},
    {"since": "2026-03-14T10:26:53+01:00", "until": "2026-03-14T10:26:53.000001+01:00"},
    {"identity": "nobody-at-all"},
]


def expected_search(params: dict[str, str], verdicts: list[Verdict] = SAMPLES) -> list[str]:
    since = utc(params["since"]) if "since" in params else None
    until = utc(params["until"]) if "until" in params else None
    keep = [
        v
        for v in verdicts
        if all(
            getattr(v, key) == params[key]
            for key in ("verdict", "reason", "identity", "source")
            if key in params
        )
        and (since is None or v.time >= since)
        and (until is None or v.time < until)
    ]
    return newest_first(keep)


@pytest.mark.parametrize("params", FILTERS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "all")
async def test_search_filters(api: Api, params: dict[str, str]) -> None:
    response = await api.get("/verdicts", limit=500, **params)
    assert response.status_code == 200, response.text
    page = response.json()
    assert ids(page["items"]) == expected_search(params)
    assert page["next_cursor"] is None


async def test_every_filter_value_is_accepted(api: Api) -> None:
    for verdict in VERDICTS:
        body = (await api.get("/verdicts", verdict=verdict, limit=500)).json()
        assert ids(body["items"]) == expected_search({"verdict": verdict})
    for reasons in REASONS_BY_VERDICT.values():
        for reason in reasons:
            body = (await api.get("/verdicts", reason=reason, limit=500)).json()
            assert ids(body["items"]) == expected_search({"reason": reason})
    for source in ("cloudtrail", "k8s_audit", "mesh"):
        body = (await api.get("/verdicts", source=source, limit=500)).json()
        assert ids(body["items"]) == expected_search({"source": source})


@pytest.mark.parametrize(
    "params", [{}, {"verdict": "unauthorized_path"}, {"identity": "payments-api", "source": "k8s_audit"}]
)
async def test_paging_walks_every_verdict_once(api: Api, params: dict[str, str]) -> None:
    # many verdicts at the same instant: the keyset must break ties by verdict id
    extra = [at(m % 4, event_id=f"bulk-{m}") for m in range(60)]
    await api.store(extra)
    items = await walk(api, "/verdicts", 7, **params)
    assert ids(items) == expected_search(params, [*SAMPLES, *extra])
    assert len(set(ids(items))) == len(items)


async def test_a_page_does_not_shift_when_newer_verdicts_arrive(api: Api) -> None:
    first = (await api.get("/verdicts", limit=10)).json()
    await api.store([at(60 * 24, event_id="much-later")])
    second = (await api.get("/verdicts", limit=10, cursor=first["next_cursor"])).json()
    assert ids(first["items"]) + ids(second["items"]) == expected_search({})[:20]


@pytest.mark.parametrize("limit", ["1", "500"])
async def test_limit_bounds_accepted(api: Api, limit: str) -> None:
    response = await api.get("/verdicts", limit=limit)
    assert response.status_code == 200
    assert len(response.json()["items"]) == min(int(limit), len(SAMPLES))


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"limit": "0"}, "query.limit"),
        ({"limit": "501"}, "query.limit"),
        ({"limit": "-3"}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"verdict": "suspicious"}, "query.verdict"),
        ({"reason": "because"}, "query.reason"),
        ({"source": "syslog"}, "query.source"),
        ({"since": "2026-03-14T09:00:00"}, "query.since"),  # no timezone
        ({"since": "yesterday"}, "query.since"),
        ({"until": "2026-02-30T00:00:00Z"}, "query.until"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "query.since"),  # before year 1 in UTC
        ({"since": "2026-03-14T10:00:00Z", "until": "2026-03-14T09:00:00Z"}, "query.until"),
        ({"since": "2026-03-14T10:00:00Z", "until": "2026-03-14T10:00:00Z"}, "query.until"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"cursor": "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzAxOjAwIiwiYSJd"}, "query.cursor"),  # time out of range
        ({"cursor": "x" * 3000}, "query.cursor"),
        ({"identity": ""}, "query.identity"),
        ({"identity": "a\x00b"}, "query.identity"),
    ],
)
async def test_invalid_search_input_is_422(api: Api, params: dict[str, str], where: str) -> None:
    response = await api.get("/verdicts", **params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert any(problem.startswith(f"{where}:") for problem in body["problems"]), body


def test_literal_parameter_types_follow_the_core() -> None:
    assert set(VerdictKind.__args__) == set(VERDICTS)  # type: ignore[attr-defined]
    assert set(Reason.__args__) == {r for rs in REASONS_BY_VERDICT.values() for r in rs}  # type: ignore[attr-defined]
    assert set(Source.__args__) == {"cloudtrail", "k8s_audit", "mesh"}  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- /identities


async def test_identity_record_with_usage_and_counts(api: Api) -> None:
    used = T0 + timedelta(hours=2)
    await VerdictRepository(api.context.engine).record_usage({("payments-api", "orders-read"): used})
    response = await api.get("/identities/payments-api")
    assert response.status_code == 200, response.text
    body = response.json()
    identity = body["identity"]
    assert identity["kind"] == "workload" and identity["status"] == "active"
    usage = {e["id"]: e["last_used"] for e in identity["entitlements"]}
    assert usage == {"orders-read": "2026-03-14T11:26:53Z", "payments-config-read": None, "receipts-rw": None}
    counts = Counter(v.verdict for v in SAMPLES if v.identity == "payments-api")
    assert body["verdict_counts"] == {kind: counts.get(kind, 0) for kind in VERDICTS}
    assert body["baseline_version"] == 1


async def test_identity_outside_the_baseline_but_with_verdicts(api: Api) -> None:
    body = (await api.get("/identities/infra-deployer")).json()
    assert body["identity"] is None
    assert body["verdict_counts"]["drift"] == sum(1 for v in SAMPLES if v.identity == "infra-deployer")


async def test_identity_in_the_baseline_without_verdicts(empty_api: Api) -> None:
    put = await empty_api.client.put(
        "/baseline/identities/nightly-backup",
        headers=empty_api.auth("write"),
        json={"kind": "ci_pipeline", "owner": "team-sre", "purpose": "Backs up the databases"},
    )
    assert put.status_code == 201, put.text
    body = (await empty_api.get("/identities/nightly-backup")).json()
    assert body["identity"]["entitlements"] == []
    assert body["verdict_counts"] == dict.fromkeys(VERDICTS, 0)
    timeline = await empty_api.get("/identities/nightly-backup/timeline")
    assert timeline.status_code == 200 and timeline.json()["items"] == []


async def test_identity_ids_with_slashes(empty_api: Api) -> None:
    identity_id = "ci/github/deploy"
    body = {"kind": "ci_pipeline", "owner": "team-sre", "purpose": "Deploys from CI"}
    put = await empty_api.client.put(
        f"/baseline/identities/{identity_id}", headers=empty_api.auth("write"), json=body
    )
    assert put.status_code == 201, put.text
    verdict = sample("k8s_audit", "matched_entitlement", identity=identity_id, event_id="slash-1")
    await empty_api.store([verdict])
    assert (await empty_api.get(f"/baseline/identities/{identity_id}")).json()["id"] == identity_id
    detail = (await empty_api.get(f"/identities/{identity_id}")).json()
    assert detail["id"] == identity_id and detail["verdict_counts"]["expected"] == 1
    timeline = (await empty_api.get(f"/identities/{identity_id}/timeline")).json()
    assert timeline["identity"] == identity_id and ids(timeline["items"]) == [verdict.verdict_id]
    deleted = await empty_api.client.delete(
        f"/baseline/identities/{identity_id}", headers=empty_api.auth("write")
    )
    assert deleted.json()["deleted"] == [identity_id]


@pytest.mark.parametrize("path", ["/identities/ghost", "/identities/ghost/timeline"])
async def test_unknown_identity_is_404(api: Api, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_timeline_pages_and_window(api: Api) -> None:
    extra = [at(m, event_id=f"tl-{m}") for m in range(-30, 31, 3)]
    await api.store(extra)
    everything = [*SAMPLES, *extra]
    items = await walk(api, "/identities/payments-api/timeline", 4)
    assert ids(items) == expected_search({"identity": "payments-api"}, everything)
    window = {"since": "2026-03-14T09:00:00Z", "until": "2026-03-14T09:20:00Z"}
    body = (await api.get("/identities/payments-api/timeline", limit=500, **window)).json()
    assert body["identity"] == "payments-api"
    assert ids(body["items"]) == expected_search({"identity": "payments-api", **window}, everything)
    assert len(body["items"]) == 6  # -24 .. -9 minutes: 09:02:53 .. 09:17:53
    bad = await api.get("/identities/payments-api/timeline", cursor="%%%")
    assert bad.status_code == 422
