"""Baseline management over HTTP on a real store (PostgreSQL and SQLite): read, edit, history.

Edits must be validated exactly as a baseline file is (same problems, same wording), be versioned
with the token's name as author, and show up in ``/identities``, ``/baseline`` and the history.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson
import pytest
import yaml

from enricher.adapters.api.baseline import MAX_BODY, parse_identity
from enricher.adapters.api.errors import ApiError
from enricher.core.baseline_file import load_baseline_text
from enricher.errors import BaselineError
from tests.integration.api_support import (  # noqa: F401  (fixtures)
    BASELINE_YAML,
    SEED_AUTHOR,
    Api,
    api_fixture,
    empty_api_fixture,
    store_url_fixture,
)

pytestmark = pytest.mark.integration

NEW_IDENTITY: dict[str, Any] = {
    "kind": "ci_pipeline",
    "owner": "team-platform",
    "purpose": "Builds and pushes images from the monorepo",
    "aliases": ["arn:aws:iam::444455556666:role/github-actions-build", "system:serviceaccount:ci:builder"],
    "entitlements": [
        {
            "id": "ecr-push",
            "system": "aws",
            "actions": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart"],
            "resources": ["arn:aws:ecr:eu-west-1:444455556666:repository/*"],
            "approved_by": "carol",
            "ticket": "SEC-200",
        },
        {
            "id": "ci-pods",
            "system": "k8s",
            "actions": ["create", "delete", "get"],
            "resources": ["ci/core/pods/*"],
            "conditions": {"source_cidrs": ["10.0.0.0/8", "fd00::/8"]},
            "valid_until": "2027-01-01T00:00:00Z",
        },
    ],
}


async def put(api: Api, identity_id: str, body: Any, role: str = "write", **kwargs: Any) -> Any:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {**api.auth(role), "Content-Type": "application/json"}
    return await api.client.put(
        f"/baseline/identities/{identity_id}", content=content, headers=headers, **kwargs
    )


# -------------------------------------------------------------------------------------- reads


async def test_baseline_summary(api: Api) -> None:
    response = await api.get("/baseline")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["baseline_version"] == 1
    assert body["changed_at"] is not None and body["changed_at"].endswith("Z")
    assert body["identities"] == 4 and body["entitlements"] == 5 and body["aliases"] == 7
    assert body["identities_by_kind"] == {"workload": 2, "k8s_service_account": 1, "agent": 1}
    assert body["identities_by_status"] == {"active": 3, "decommissioned": 1}
    assert body["entitlements_by_system"] == {"aws": 2, "k8s": 2, "mesh": 1}
    assert body["settings"] == {
        "out_of_scope": ["arn:aws:iam::*:role/aws-service-role/*"],
        "mesh_require_identity": False,
        "unused_after_days": 30,
    }


async def test_empty_baseline_summary(empty_api: Api) -> None:
    body = (await empty_api.get("/baseline")).json()
    assert body["baseline_version"] == 0 and body["identities"] == 0 and body["changed_at"] is None


async def test_list_identities_pages_and_filters(api: Api) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = (
            await api.get("/baseline/identities", limit=3, **({"cursor": cursor} if cursor else {}))
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["argocd", "payments-api", "report-exporter", "support-triage-agent"]
    first = (await api.get("/baseline/identities", limit=1)).json()["items"][0]
    assert first == {
        "id": "argocd",
        "kind": "workload",
        "owner": "team-platform",
        "purpose": "Syncs cluster state from the gitops repository",
        "status": "active",
        "aliases": 1,
        "entitlements": 1,
    }
    workloads = (await api.get("/baseline/identities", kind="workload")).json()
    assert [i["id"] for i in workloads["items"]] == ["argocd", "payments-api"]
    retired = (await api.get("/baseline/identities", status="decommissioned")).json()
    assert [i["id"] for i in retired["items"]] == ["report-exporter"]
    assert (await api.get("/baseline/identities", cursor="!!")).status_code == 422
    assert (await api.get("/baseline/identities", limit=501)).status_code == 422


async def test_get_identity_in_file_shape(api: Api) -> None:
    response = await api.get("/baseline/identities/payments-api")
    assert response.status_code == 200
    body = response.json()
    as_file = yaml.safe_load(BASELINE_YAML)["identities"][0]
    assert body["aliases"] == sorted(as_file["aliases"])
    assert [e["id"] for e in body["entitlements"]] == ["orders-read", "payments-config-read", "receipts-rw"]
    assert body["entitlements"][0]["conditions"] == {}
    assert (await api.get("/baseline/identities/nobody")).status_code == 404


async def test_what_get_returns_puts_back_unchanged(api: Api) -> None:
    for identity_id in ("payments-api", "argocd", "report-exporter", "support-triage-agent"):
        record = (await api.get(f"/baseline/identities/{identity_id}")).json()
        response = await put(api, identity_id, record)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["baseline_version"] == 1 and body["upserted"] == [] and body["identity"] == record
    history = (await api.get("/baseline/history")).json()["items"]
    assert [entry["version"] for entry in history] == [1]


# ------------------------------------------------------------------------------------- writes


async def test_create_update_delete_versioned_with_token_name(api: Api) -> None:
    created = await put(api, "image-builder", NEW_IDENTITY)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["baseline_version"] == 2 and body["author"] == "gitops-sync"
    assert body["upserted"] == ["image-builder"]
    stored = body["identity"]
    assert stored["entitlements"][0]["id"] == "ci-pods"  # the store keeps entitlements by id
    assert stored["entitlements"][0]["conditions"] == {"source_cidrs": ["10.0.0.0/8", "fd00::/8"]}

    detail = (await api.get("/identities/image-builder")).json()
    assert detail["baseline_version"] == 2
    assert {e["id"] for e in detail["identity"]["entitlements"]} == {"ecr-push", "ci-pods"}
    assert (await api.get("/baseline")).json()["identities"] == 5

    changed = copy.deepcopy(NEW_IDENTITY)
    changed["status"] = "decommissioned"
    changed["entitlements"] = changed["entitlements"][:1]
    updated = await put(api, "image-builder", changed, role="both")
    assert updated.status_code == 200, updated.text
    assert updated.json()["baseline_version"] == 3 and updated.json()["author"] == "admin"
    detail = (await api.get("/identities/image-builder")).json()
    assert detail["identity"]["status"] == "decommissioned"
    assert [e["id"] for e in detail["identity"]["entitlements"]] == ["ecr-push"]

    deleted = await api.client.delete("/baseline/identities/image-builder", headers=api.auth("write"))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {
        "baseline_version": 4,
        "author": "gitops-sync",
        "upserted": [],
        "deleted": ["image-builder"],
        "identity": None,
    }
    assert (await api.get("/identities/image-builder")).status_code == 404
    assert (await api.get("/baseline/identities/image-builder")).status_code == 404
    again = await api.client.delete("/baseline/identities/image-builder", headers=api.auth("write"))
    assert again.status_code == 404

    history = (await api.get("/baseline/history")).json()["items"]
    assert [(e["version"], e["author"]) for e in history] == [
        (4, "gitops-sync"),
        (3, "admin"),
        (2, "gitops-sync"),
        (1, SEED_AUTHOR),
    ]
    assert history[0]["change"] == {"upserted": [], "deleted": ["image-builder"], "settings": False}
    assert all(e["changed_at"].endswith("Z") for e in history)
    only = (await api.get("/baseline/history", identity="image-builder")).json()["items"]
    assert [e["version"] for e in only] == [4, 3, 2]
    assert [e["version"] for e in (await api.get("/baseline/history", limit=2)).json()["items"]] == [4, 3]
    assert (await api.get("/baseline")).json()["baseline_version"] == 4


async def test_edit_is_visible_in_event_context(api: Api) -> None:
    record = (await api.get("/baseline/identities/payments-api")).json()
    record["owner"] = "team-payments-platform"
    assert (await put(api, "payments-api", record)).status_code == 200
    body = (await api.get("/events/b9c3d881-1e77-426c-abd3-5ca20d903380")).json()
    assert body["identity"]["owner"] == "team-payments-platform"
    assert body["verdicts"][0]["owner"] == "team-payments"  # the verdict keeps what it was judged with
    assert body["baseline_version"] == 2


async def test_body_may_omit_id_but_not_contradict_the_path(api: Api) -> None:
    response = await put(api, "image-builder", {**NEW_IDENTITY, "id": "something-else"})
    assert response.status_code == 422
    assert response.json()["problems"] == [
        "body.id: 'something-else' does not match the identity in the path, 'image-builder'"
    ]
    assert (await put(api, "image-builder", {**NEW_IDENTITY, "id": "image-builder"})).status_code == 201


async def test_alias_of_another_identity_is_refused(api: Api) -> None:
    body = {**NEW_IDENTITY, "aliases": ["cluster.local/ns/payments/sa/api"]}  # payments-api's SPIFFE id
    response = await put(api, "image-builder", body)
    assert response.status_code == 422
    assert response.json()["problems"] == [
        "identity 'image-builder': alias 'cluster.local/ns/payments/sa/api' is already listed by "
        "identity 'payments-api'"
    ]
    assert (await api.get("/baseline")).json()["baseline_version"] == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "body: not valid JSON"),
        (b"[]", "body: must be a JSON object describing one identity"),
        (b'"payments"', "body: must be a JSON object describing one identity"),
        (b"", "body: not valid JSON"),
    ],
)
async def test_body_that_is_not_an_identity_object(api: Api, body: bytes, problem: str) -> None:
    response = await put(api, "x", body)
    assert response.status_code == 422
    assert response.json()["problems"][0].startswith(problem)


async def test_body_too_large_is_413(api: Api) -> None:
    body = {**NEW_IDENTITY, "purpose": "x" * (MAX_BODY + 1)}
    response = await put(api, "image-builder", body)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"

    async def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        for _ in range(3):
            yield b" " * (MAX_BODY // 2)

    streamed = await api.client.put(
        "/baseline/identities/image-builder", content=chunks(), headers=api.auth("write")
    )
    assert streamed.status_code == 413


# An invalid identity each; the API must report exactly what the file validator reports.
INVALID: list[dict[str, Any]] = [
    {"kind": "robot", "owner": "t", "purpose": "p"},
    {"kind": "workload", "purpose": "p"},
    {"kind": "workload", "owner": True, "purpose": "p"},
    {"kind": "workload", "owner": "t", "purpose": "p", "status": "retired"},
    {"kind": "workload", "owner": "t", "purpose": "p", "colour": "blue"},
    {"kind": "workload", "owner": "t", "purpose": "p", "aliases": "arn:aws:iam::1:role/a"},
    {"kind": "workload", "owner": "t", "purpose": "p", "aliases": ["a", "a"]},
    {"kind": "workload", "owner": "t", "purpose": "p", "entitlements": [{"id": "e"}]},
    {
        "kind": "workload",
        "owner": "t",
        "purpose": "p",
        "entitlements": [
            {"id": "e", "system": "aws", "actions": ["GetObject"], "resources": ["bucket/*"]},
            {"id": "e", "system": "k8s", "actions": ["GET"], "resources": []},
            {"id": "m", "system": "mesh", "actions": ["get"], "resources": ["h/*"]},
            {"id": "z", "system": "gcp", "actions": ["x"], "resources": ["y"]},
        ],
    },
    {
        "kind": "workload",
        "owner": "t",
        "purpose": "p",
        "entitlements": [
            {
                "id": "w",
                "system": "k8s",
                "actions": ["get"],
                "resources": ["ns/core/pods/*"],
                "conditions": {"source_cidrs": ["10.0.0.0/33", 7], "ports": [1]},
                "valid_from": "2026-06-01T00:00:00",
                "valid_until": "2026-01-01T00:00:00Z",
            },
            {
                "id": "v",
                "system": "k8s",
                "actions": ["get"],
                "resources": ["ns/core/pods/*"],
                "valid_from": "2026-06-01T00:00:00Z",
                "valid_until": "2026-01-01T00:00:00Z",
            },
        ],
    },
    {"kind": "workload", "owner": "t", "purpose": "p", "entitlements": "none"},
    {"kind": ["workload"], "owner": "t", "purpose": {"a": 1}},
]


def file_problems(identity_id: str, body: dict[str, Any]) -> list[str]:
    """What ``enricher baseline validate`` says about the same identity written in a file (without
    the file's line references, which the API cannot have)."""
    document = {"version": 1, "identities": [{"id": identity_id, **body}]}
    with pytest.raises(BaselineError) as caught:
        load_baseline_text(yaml.safe_dump(document, sort_keys=False))
    return [
        re.sub(r" \(first defined on line \d+\)| on line \d+", "", p.message) for p in caught.value.problems
    ]


@pytest.mark.parametrize("body", INVALID, ids=range(len(INVALID)))
async def test_invalid_identity_is_422_with_the_file_validators_problems(
    api: Api, body: dict[str, Any]
) -> None:
    response = await put(api, "bad-one", body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "invalid_request"
    assert answer["problems"] == file_problems("bad-one", body)
    assert (await api.get("/baseline")).json()["baseline_version"] == 1


async def test_empty_owner_is_refused_like_an_import(api: Api) -> None:
    # a quoted empty string passes the file's syntax checks; the store's rules refuse it (as on import)
    response = await put(api, "bad-one", {"kind": "workload", "owner": "", "purpose": "p"})
    assert response.status_code == 422
    assert response.json()["problems"] == ["identity 'bad-one': owner has no value"]


def test_null_means_not_given() -> None:
    body = {
        "kind": "workload",
        "owner": "t",
        "purpose": "p",
        "status": None,
        "entitlements": [
            {"id": "e", "system": "k8s", "actions": ["get"], "resources": ["a/core/pods/*"], "ticket": None}
        ],
    }
    identity = parse_identity(orjson.dumps(body), "nulls")
    assert identity.status == "active" and identity.entitlements[0].ticket is None


def test_text_yaml_would_misread_stays_text() -> None:
    # JSON strings are quoted in the YAML the validator reads: no "no" -> False, no "1.0" -> number
    body = {"kind": "workload", "owner": "no", "purpose": "1.0", "aliases": ["null", "~", "# not a comment"]}
    identity = parse_identity(orjson.dumps(body), "quoted")
    assert (identity.owner, identity.purpose) == ("no", "1.0")
    assert identity.aliases == ("null", "~", "# not a comment")
    odd = "line\x85break\u2028sep\u2029\x9f\ufeff\x7f end"  # YAML would fold or refuse these raw
    control = parse_identity(orjson.dumps({**body, "purpose": odd}), "c1")
    assert control.purpose == odd


def test_parse_identity_refuses_bad_bodies_with_api_errors() -> None:
    with pytest.raises(ApiError) as caught:
        parse_identity(b'{"kind": "workload"}', "x")
    assert caught.value.status == 422
    assert caught.value.problems == [
        "identity 'x' is missing required key 'owner'",
        "identity 'x' is missing required key 'purpose'",
    ]
