"""Probes, metrics, the OpenAPI document and failure answers of the HTTP API.

``/readyz`` is checked against real unready stores (never migrated, an older migration, nothing
listening); a store outage during a data request must be a 503, and a bug a bare 500 whose body
gives nothing away while the log keeps the traceback.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from enricher.adapters.api import create_app
from enricher.adapters.metrics import Metrics
from enricher.adapters.store.migrate import head_revision, upgrade_to_head
from enricher.config import Settings
from tests.integration.api_support import Api, api_fixture, close_api, open_api, store_url_fixture  # noqa: F401  (fixtures)
from tests.integration.conftest import DatabaseFactory
from tests.integration.services import free_port

pytestmark = pytest.mark.integration


async def anonymous(url: str, path: str, token: str | None = None) -> httpx.Response:
    app = create_app(Settings(database_url=url))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.get(path, headers=headers)
    finally:
        await app.state.context.engine.dispose()


async def test_probes_need_no_token(api: Api) -> None:
    health = await api.client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "revision": head_revision()}


async def test_not_ready_when_never_migrated(tmp_path: Path, pg_database_factory: DatabaseFactory) -> None:
    for url in (f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}", await pg_database_factory(migrated=False)):
        response = await anonymous(url, "/readyz")
        assert response.status_code == 503
        assert response.json()["reason"].startswith("database is not migrated")
        assert (await anonymous(url, "/healthz")).status_code == 200


async def test_not_ready_when_migrations_are_behind(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade_to_head(url)
    app = create_app(Settings(database_url=url))
    context = app.state.context
    app.state.context = dataclasses.replace(context, head_revision="9999")  # a release newer than the store
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.get("/readyz")
    finally:
        await context.engine.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "reason": f"database is at migration {head_revision()}, this release needs 9999",
        "revision": head_revision(),
    }


async def test_store_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    url = f"postgresql+asyncpg://enricher:secret@127.0.0.1:{free_port()}/enricher"
    ready = await anonymous(url, "/readyz")
    assert ready.status_code == 503
    assert ready.json()["reason"].startswith("database unreachable")
    assert "secret" not in ready.text
    with caplog.at_level(logging.WARNING, logger="enricher.api"):
        data = await anonymous(url, "/verdicts", token="enr_whatever")  # checking it needs the store
    assert data.status_code == 503
    assert data.json() == {
        "error": "store_unavailable",
        "detail": "the baseline and verdict store cannot be reached; retry later",
    }
    assert any("store unavailable during GET /verdicts" in r.getMessage() for r in caplog.records)


class Broken:
    """A verdict store whose every call fails the way a bug would."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("bug: /srv/enricher/secret-path line 42")

        return fail


async def test_a_bug_is_a_bare_500_and_a_logged_traceback(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    api.app.state.context = dataclasses.replace(api.context, verdicts=Broken())
    with caplog.at_level(logging.ERROR, logger="enricher.api"):
        response = await api.get("/verdicts")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "detail": "internal error; the server log has the details",
    }
    assert "secret-path" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error on GET /verdicts"]
    assert logged and logged[0].exc_info is not None
    # the process carries on
    assert (await api.get("/baseline")).status_code == 200


async def test_metrics_count_requests_by_route_template(store_url: str) -> None:
    metrics = Metrics()
    api = await open_api(store_url, metrics=metrics)
    try:
        for event in ("no-such-1", "no-such-2"):
            assert (await api.get(f"/events/{event}")).status_code == 404
        assert (await api.client.get("/verdicts")).status_code == 401
        assert (await api.get("/verdicts", limit=0)).status_code == 422
        assert (await api.get("/not/a/route")).status_code == 404
        response = await api.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert (await api.client.get("/metrics")).status_code == 401
    finally:
        await close_api(api)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }

    def requests(route: str, status: str) -> Any:
        return samples.get(("enricher_api_requests_total", (("route", route), ("status", status))))

    assert requests("/events/{event_id}", "404") == 2
    assert requests("/verdicts", "401") == 1
    assert requests("/verdicts", "422") == 1
    assert requests("unmatched", "404") == 1
    assert samples[("enricher_api_request_seconds_count", (("route", "/events/{event_id}"),))] == 2
    assert not any("no-such" in str(key) for key in samples)


async def test_unknown_query_parameters_are_refused_after_auth(api: Api) -> None:
    typo = await api.get("/verdicts", verdcit="drift")
    assert typo.status_code == 422
    assert typo.json()["problems"] == [
        "query.verdcit: unknown parameter (this route takes: cursor, identity, limit, reason, since, "
        "source, until, verdict)"
    ]
    assert (await api.client.get("/verdicts", params={"verdcit": "drift"})).status_code == 401
    assert (await api.client.get("/healthz", params={"x": "1"})).status_code == 422


async def test_openapi_document(api: Api) -> None:
    response = await api.client.get("/openapi.json")  # the description is public; the data is not
    assert response.status_code == 200
    document = response.json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `enricher api token create NAME --scopes read[,baseline:write]`.",
    }
    schemas = document["components"]["schemas"]
    for name in ("VerdictRecord", "IdentityRecord", "EntitlementRecord", "ErrorBody"):
        assert schemas[name].get("examples"), name
    put = document["paths"]["/baseline/identities/{identity_id}"]["put"]
    assert put["x-required-scope"] == "baseline:write"
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IdentityRecord"
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            anonymous_ok = path in ("/healthz", "/readyz")
            assert ("security" in operation) != anonymous_ok, (method, path)
            if not anonymous_ok:
                assert {"401", "403", "422"} <= set(operation["responses"]), (method, path)
