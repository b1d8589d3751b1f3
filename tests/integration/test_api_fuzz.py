"""Property-based runs against the published OpenAPI document: no input gets a 5xx.

schemathesis generates requests for every operation of ``/openapi.json`` (valid ones and,
with negative generation, invalid ones) and sends them in-process to the app over a seeded store
on PostgreSQL and SQLite, with a token that may do everything. Each answer must not be a server
error, must carry a documented status code and match the documented schema, invalid input must
be refused, and auth must be enforced (schemathesis retries without and with a wrong token).

The app gets an engine without a connection pool: schemathesis drives each request on a fresh
event loop, and a pooled connection cannot move between loops.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy.pool import NullPool

from enricher.adapters.api import create_app
from enricher.adapters.api.baseline import parse_identity
from enricher.adapters.api.errors import ApiError
from enricher.adapters.store.engine import create_engine_for
from enricher.config import Settings
from tests.integration.api_support import close_api, open_api, store_url_fixture  # noqa: F401  (fixtures)
from tests.integration.services import run_isolated

pytestmark = pytest.mark.integration

# per operation, mode and database; raise it for a longer hunt
EXAMPLES = int(os.environ.get("ENRICHER_TEST_FUZZ_EXAMPLES", "40"))


async def _seed(url: str) -> str:
    api = await open_api(url)
    try:
        return api.tokens["both"]
    finally:
        await close_api(api)


@pytest.fixture(name="seeded")
def seeded_fixture(store_url: str) -> Iterator[tuple[Any, str]]:
    """(app over a seeded store without a connection pool, a token with every scope)."""
    token = run_isolated(_seed(store_url))
    engine = create_engine_for(store_url, poolclass=NullPool)
    app = create_app(Settings(database_url=store_url), engine=engine)
    yield app, token
    run_isolated(engine.dispose())


# The document does not depend on the store: read it from an app that never connects.
SCHEMA = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
)
# A schema-valid request may still be refused with a 422: an opaque cursor the store did not make,
# until before since, an identity body the baseline file's rules refuse. No schema can say so.
NOT_EXPRESSIBLE = [schemathesis.checks.positive_data_acceptance]
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}


# (operation, mode): the probes take no input at all, so there is nothing to make invalid
RUNS = [
    pytest.param(label, mode, id=f"{label}-{mode}")
    for label in sorted(OPERATIONS)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if not (mode == GenerationMode.NEGATIVE and label in ("GET /healthz", "GET /readyz"))
]


@pytest.mark.parametrize(("label", "mode"), RUNS)
def test_no_server_errors(seeded: tuple[Any, str], label: str, mode: GenerationMode) -> None:
    app, token = seeded
    headers = {"Authorization": f"Bearer {token}"}
    sent: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(case=OPERATIONS[label].as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call_and_validate(app=app, headers=headers, excluded_checks=NOT_EXPRESSIBLE)
        sent.append(response.status_code)

    run()
    assert sent, "no request was sent"


# --------------------------------------------------------------------- identity body round trip

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(
        st.sampled_from(["kind", "owner", "purpose", "status", "aliases", "entitlements", "x"]), _JSON
    )
)
def test_any_json_object_is_an_identity_or_a_422(body: dict[str, Any]) -> None:
    try:
        parse_identity(orjson.dumps(body), "fuzzed")
    except ApiError as exc:
        assert exc.status == 422 and exc.problems


@settings(max_examples=300, deadline=None)
@given(owner=_TEXT, purpose=_TEXT, alias=_TEXT)
def test_text_arrives_as_sent(owner: str, purpose: str, alias: str) -> None:
    body = {"kind": "agent", "owner": owner, "purpose": purpose, "aliases": [alias]}
    try:
        identity = parse_identity(orjson.dumps(body), "fuzzed")
    except ApiError as exc:
        # the only refusal for free text: pattern syntax the matcher would reject (e.g. unbalanced [)
        assert all("alias" in p for p in exc.problems or []), exc.problems
        return
    assert (identity.owner, identity.purpose, identity.aliases) == (owner, purpose, (alias,))
