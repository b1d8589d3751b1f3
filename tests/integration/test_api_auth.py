"""Authentication and authorization of the HTTP API, tokens in the store, and the token commands.

The matrix covers every route of the app (the test fails when a route is added without being
listed here) against no token, a bad one, a revoked one, a ``read`` token and a
``baseline:write`` token, on PostgreSQL and SQLite.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from enricher.adapters.store.engine import create_engine_for
from enricher.adapters.store.models import ApiTokenRow
from enricher.adapters.store.token_repo import TokenError, TokenRepository, effective_scopes, parse_scopes
from tests.conftest import REPO
from tests.integration.api_support import TOKEN_ROLES, Api, api_fixture, store_url_fixture  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

EVENT = "b9c3d881-1e77-426c-abd3-5ca20d903380"
IDENTITY_BODY = {"kind": "workload", "owner": "team-x", "purpose": "Matrix probe"}

# (method, path template, concrete path, needed scope or None for anonymous)
ROUTES: list[tuple[str, str, str, str | None]] = [
    ("GET", "/healthz", "/healthz", None),
    ("GET", "/readyz", "/readyz", None),
    ("GET", "/metrics", "/metrics", "read"),
    ("GET", "/events/{event_id}", f"/events/{EVENT}", "read"),
    ("GET", "/verdicts", "/verdicts", "read"),
    ("GET", "/identities/{identity_id}", "/identities/payments-api", "read"),
    ("GET", "/identities/{identity_id}/timeline", "/identities/payments-api/timeline", "read"),
    ("GET", "/baseline", "/baseline", "read"),
    ("GET", "/baseline/identities", "/baseline/identities", "read"),
    ("GET", "/baseline/identities/{identity_id}", "/baseline/identities/argocd", "read"),
    ("GET", "/baseline/history", "/baseline/history", "read"),
    ("PUT", "/baseline/identities/{identity_id}", "/baseline/identities/matrix-probe", "baseline:write"),
    (
        "DELETE",
        "/baseline/identities/{identity_id}",
        "/baseline/identities/report-exporter",
        "baseline:write",
    ),
]
CREDENTIALS = ("none", "bad", "revoked", "read", "write")
# what each token may do, stated here rather than computed by the code under test
GRANTED = {"read": {"read"}, "write": {"read", "baseline:write"}}


def headers_for(api: Api, credential: str) -> dict[str, str]:
    if credential == "none":
        return {}
    if credential == "bad":
        return {"Authorization": "Bearer enr_" + "A" * 43}
    return api.auth(credential)


async def call(api: Api, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    if method == "PUT":
        return await api.client.put(path, json=IDENTITY_BODY, headers=headers)
    return await api.client.request(method, path, headers=headers)


def test_matrix_lists_every_route(store_url: str) -> None:
    from enricher.adapters.api import create_app
    from enricher.config import Settings

    app = create_app(Settings(database_url=store_url))
    served = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    assert served == {(method, template) for method, template, _, _ in ROUTES}


def check(response: httpx.Response, credential: str, scope: str | None) -> None:
    """The answer a route needing ``scope`` owes a request made with ``credential``."""
    if scope is None:
        assert response.status_code == 200, response.text
        return
    if credential in ("none", "bad", "revoked"):
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="enricher"')
        reason = {
            "none": "no credentials",
            "bad": "unknown token",
            "revoked": f"token {TOKEN_ROLES['revoked'][0]!r} was revoked",
        }
        assert response.json()["detail"].startswith(reason[credential]), response.text
        return
    name, scopes = TOKEN_ROLES[credential]
    if scope not in GRANTED[credential]:
        assert response.status_code == 403, response.text
        assert response.json() == {
            "error": "insufficient_scope",
            "detail": f"this route needs the {scope!r} scope; token {name!r} has: {', '.join(scopes)}",
        }
        assert f'scope="{scope}"' in response.headers["WWW-Authenticate"]
        return
    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize("credential", CREDENTIALS)
async def test_authorization_matrix(api: Api, credential: str) -> None:
    """Every route with one kind of credential (one seeded store per credential and database)."""
    failures = []
    for method, template, path, scope in ROUTES:
        response = await call(api, method, path, headers_for(api, credential))
        try:
            check(response, credential, scope)
        except AssertionError as exc:
            failures.append(f"{method} {template}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Basic dXNlcjpwYXNz", "unsupported authorization scheme 'Basic': use Bearer"),
        ("Bearer", "empty bearer token"),
        ("Bearer    ", "empty bearer token"),
        ("Token abc", "unsupported authorization scheme 'Token': use Bearer"),
        ("Bearer " + "x" * 600, "malformed bearer token"),
    ],
)
async def test_malformed_authorization_headers(api: Api, header: str, detail: str) -> None:
    response = await api.client.get("/verdicts", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["detail"] == detail
    assert "error=" in response.headers["WWW-Authenticate"]


async def test_non_ascii_token_is_refused(api: Api) -> None:
    raw = [(b"authorization", "Bearer tökén".encode())]
    response = await api.client.get("/verdicts", headers=raw)
    assert response.status_code == 401


async def test_bearer_scheme_is_case_insensitive(api: Api) -> None:
    response = await api.client.get("/baseline", headers={"Authorization": f"bearer {api.tokens['read']}"})
    assert response.status_code == 200


async def test_revocation_takes_effect_at_once(api: Api) -> None:
    assert (await api.get("/baseline", role="read")).status_code == 200
    await api.context.tokens.revoke(TOKEN_ROLES["read"][0])
    assert (await api.get("/baseline", role="read")).status_code == 401


# ---------------------------------------------------------------------------------- token store


async def test_only_the_hash_is_stored(store_url: str) -> None:
    engine = create_engine_for(store_url)
    try:
        repo = TokenRepository(engine)
        token = await repo.create("ci-reader", ["read"])
        assert token.startswith("enr_") and len(token) >= 40
        async with engine.connect() as conn:
            rows = (await conn.execute(select(ApiTokenRow.token_hash, ApiTokenRow.scopes))).all()
        assert rows == [(hashlib.sha256(token.encode()).hexdigest(), ["read"])]
        found = await repo.authenticate(token)
        assert found is not None and found.name == "ci-reader" and found.active
        assert await repo.authenticate(token + "x") is None
        assert await repo.authenticate(hashlib.sha256(token.encode()).hexdigest()) is None
        other = await repo.create("ci-writer", ["baseline:write", "read", "read"])
        assert other != token
        assert [(i.name, i.scopes) for i in await repo.list_tokens()] == [
            ("ci-reader", ("read",)),
            ("ci-writer", ("baseline:write", "read")),
        ]
    finally:
        await engine.dispose()


async def test_token_names_scopes_and_revocation_rules(store_url: str) -> None:
    engine = create_engine_for(store_url)
    try:
        repo = TokenRepository(engine)
        await repo.create("svc", ["read"])
        with pytest.raises(TokenError, match="already exists"):
            await repo.create("svc", ["read"])
        for bad_name in ("", "has space", "-dash-first", "x" * 65, "ünï"):
            with pytest.raises(TokenError, match="bad token name"):
                await repo.create(bad_name, ["read"])
        for bad_scopes in ([], ["admin"], ["read", "write"]):
            with pytest.raises(TokenError, match="scopes must be"):
                await repo.create("other", bad_scopes)
        revoked = await repo.revoke("svc")
        assert revoked.revoked_at is not None and not revoked.active
        again = await repo.revoke("svc")
        assert again.revoked_at == revoked.revoked_at  # revoking twice keeps the first time
        with pytest.raises(TokenError, match="no token named"):
            await repo.revoke("never-made")
        with pytest.raises(TokenError, match="already exists"):
            await repo.create("svc", ["read"])  # revoked names stay taken
    finally:
        await engine.dispose()


def test_scope_parsing() -> None:
    assert parse_scopes("read") == ("read",)
    assert parse_scopes(" read , baseline:write,read ") == ("read", "baseline:write")
    assert effective_scopes(["baseline:write"]) == {"read", "baseline:write"}
    assert effective_scopes(["read"]) == {"read"}
    for bad in ("", ",", "read,admin", "Read"):
        with pytest.raises(TokenError):
            parse_scopes(bad)


# ------------------------------------------------------------------------------------- commands


def enricher(*args: str, url: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENRICHER_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "enricher.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=check,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 30.0, **kwargs: Any) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2, **kwargs)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_token_commands_and_a_served_api(tmp_path: Path) -> None:
    # a store never migrated: the commands migrate it themselves
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    created = enricher("api", "token", "create", "ci-reader", "--scopes", "read", url=url)
    token = created.stdout.strip()
    assert token.startswith("enr_") and "\n" not in token
    assert "shown only this once" in created.stderr
    writer = enricher("api", "token", "create", "gitops", "--scopes", "read,baseline:write", url=url)
    duplicate = enricher("api", "token", "create", "ci-reader", "--scopes", "read", url=url, check=False)
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
    bad_scope = enricher("api", "token", "create", "x", "--scopes", "root", url=url, check=False)
    assert bad_scope.returncode != 0 and "unknown scope(s) root" in bad_scope.stderr
    listed = enricher("api", "token", "list", url=url).stdout.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [
        ["ci-reader", "read"],
        ["gitops", "read,baseline:write"],
    ]
    assert token not in "".join(listed)

    port = free_port()
    env = {**os.environ, "ENRICHER_DATABASE_URL": url, "ENRICHER_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "enricher.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
        assert httpx.get(f"{base}/baseline").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/baseline", headers=auth).json()["baseline_version"] == 0
        write = {"Authorization": f"Bearer {writer.stdout.strip()}"}
        put = httpx.put(f"{base}/baseline/identities/cli-probe", json=IDENTITY_BODY, headers=write)
        assert put.status_code == 201 and put.json()["author"] == "gitops"
        revoked = enricher("api", "token", "revoke", "ci-reader", url=url)
        assert "revoked" in revoked.stdout
        assert httpx.get(f"{base}/baseline", headers=auth).status_code == 401
        metrics = httpx.get(f"{base}/metrics", headers=write).text
        assert 'enricher_api_requests_total{route="/baseline",status="401"} 2.0' in metrics
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status shows it
    assert server.returncode in (0, -signal.SIGTERM), stderr.decode()
    assert b"Traceback" not in stderr
